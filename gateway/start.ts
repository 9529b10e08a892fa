/**
 * Assembles the long-lived parts (issuers, policy engine, decision log) around the HTTP shell and
 * starts listening. Used by the CLI, the demo, the integration tests and the benchmark, so all
 * four run the same gateway.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/load.ts';
import { createIssuerRegistry, type IssuerRegistry } from './identity/issuers.ts';
import { createPolicyEngine, type PolicyEngine } from './policy/engine.ts';
import { openDecisionLog, type DecisionLog } from '../audit/decision-log.ts';
import { createShipper } from '../audit/ship.ts';
import { archiveBundle } from '../audit/bundle-archive.ts';
import { buildGateway } from './server.ts';

export type RunningGateway = {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly engine: PolicyEngine;
  readonly decisionLog: DecisionLog;
  readonly issuers: IssuerRegistry;
  close(): Promise<void>;
};

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startGateway(config: Config, opts: { now?: () => Date } = {}): Promise<RunningGateway> {
  const engine = await createPolicyEngine({
    bundlePath: config.policy.bundle,
    entrypoint: config.policy.entrypoint,
    memoryInitialPages: config.policy.memoryInitialPages,
    memoryMaximumPages: config.policy.memoryMaximumPages,
  });
  // Every bundle that produced a record is kept beside the log, so its decisions can be replayed.
  await archiveBundle(config.decisionLog.dir, config.policy.bundle, engine.bundleSha256);
  let app: FastifyInstance | undefined;
  const dl = config.decisionLog;
  const decisionLog = await openDecisionLog({
    dir: dl.dir,
    durability: dl.durability,
    batchIntervalMs: dl.batchIntervalMs,
    ...(dl.ship ? { ship: createShipper({ ...dl.ship, onEvent: (msg, extra) => app?.log.warn(extra, msg) }) } : {}),
    instanceId: config.gateway.instanceId,
    segmentBytes: config.decisionLog.segmentBytes,
    segmentMaxAgeMs: config.decisionLog.segmentMaxAgeMs,
    ...(config.decisionLog.checkpointKey !== undefined ? { checkpointKey: config.decisionLog.checkpointKey } : {}),
    labels: { instance_id: config.gateway.instanceId, version: VERSION, gateway_region: config.gateway.region },
  });
  const issuers = createIssuerRegistry(config.issuers, config.timeouts, (msg, extra) => app?.log.info(extra ?? {}, msg));
  try {
    app = await buildGateway({ config, engine, decisionLog, issuers, version: VERSION, ...(opts.now ? { now: opts.now } : {}) });
    for (const w of decisionLog.warnings) app.log.warn({ instanceDir: decisionLog.instanceDir }, w);
    if (dl.fsync !== undefined) app.log.warn(`decisionLog.fsync is deprecated: use decisionLog.durability ("${dl.durability}")`);
    // Loud on purpose: besides the log (which may be silenced), on stderr.
    if (dl.durability === 'none') process.stderr.write(`WARNING: decisionLog.durability is "none": decision records are not synced to disk; a crash can lose records of answered requests. Benchmarks only.\n`);
    // Start even when an IdP is down: its tokens get 503 until discovery succeeds (retried).
    await Promise.race([issuers.firstAttempt, new Promise((r) => setTimeout(r, config.timeouts.discoveryMs).unref())]);
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    issuers.stop();
    await decisionLog.close();
    await app?.close();
    throw err;
  }
  const addr = app.server.address();
  const url = typeof addr === 'object' && addr ? `${config.listen.tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
  const running = app;
  return {
    app: running,
    url,
    engine,
    decisionLog,
    issuers,
    async close() {
      issuers.stop();
      await running.close();
      await decisionLog.close();
    },
  };
}
