/**
 * CLI entry point.
 *   node gateway/main.ts --config gateway.yaml   run with a configuration file
 *   node gateway/main.ts --demo                  run the embedded demo (no outside service)
 * An invalid configuration exits with status 2 and a message that starts with the wrong key.
 */
import { ConfigError, loadConfigFile } from './config/load.ts';
import { BundleError } from './policy/bundle.ts';
import { startGateway, type RunningGateway } from './start.ts';

async function main(argv: string[]): Promise<void> {
  let running: RunningGateway | { close(): Promise<void> };
  let shutdownMs = 10_000; // the demo's; a config file sets timeouts.shutdownMs
  if (argv.includes('--demo')) {
    const { runDemo } = await import('./demo/run-demo.ts');
    running = await runDemo();
  } else {
    const i = argv.indexOf('--config');
    const path = i >= 0 ? argv[i + 1] : process.env.GATEWAY_CONFIG;
    if (!path) {
      console.error('usage: node gateway/main.ts --config <file.yaml> | --demo');
      process.exit(2);
    }
    const config = loadConfigFile(path);
    shutdownMs = config.timeouts.shutdownMs;
    const gw = await startGateway(config);
    gw.app.log.info({ url: gw.url, policyRevision: gw.engine.revision, decisionLog: gw.decisionLog.file }, 'gateway listening');
    running = gw;
  }
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    console.error(`${signal}: shutting down`);
    // In-flight requests get shutdownMs to finish (their records are written); then exit anyway.
    const force = setTimeout(() => process.exit(1), shutdownMs);
    force.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof BundleError) {
    console.error(`config error: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
