/**
 * The load generator, run as its own process so it never shares an event loop with a server
 * under test:
 *
 *   node bench/load.ts <url> '<json options>'
 *
 * Options: { connections, duration (s), warmup (s), headers?, expectBody? }. Runs autocannon
 * (warm-up first, same connections, results discarded), then the measured run, and prints one
 * JSON object on stdout: autocannon's result plus `cpu`, this process's whole CPU time (warm-up
 * included), so the report can say how much of the machine the generator itself took.
 *
 * `expectBody`: every response body must equal it byte for byte; autocannon counts the others
 * as `mismatches`. The orchestrator passes the body of a checked sample response, so a run in
 * which the server answered something else (an error page, a different row count) says so.
 */
import autocannon from 'autocannon';

type LoadOptions = {
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly expectBody?: string;
};

async function main(): Promise<void> {
  const [url, json] = process.argv.slice(2);
  if (url === undefined || json === undefined) {
    process.stderr.write("usage: node bench/load.ts <url> '<json options>'\n");
    process.exit(2);
  }
  const o = JSON.parse(json) as LoadOptions;
  const base = {
    url,
    connections: o.connections,
    pipelining: 1,
    headers: { ...(o.headers ?? {}) },
    ...(o.expectBody !== undefined ? { expectBody: o.expectBody } : {}),
  };
  if (o.warmup > 0) await autocannon({ ...base, duration: o.warmup });
  const result = (await autocannon({ ...base, duration: o.duration })) as unknown as Record<string, unknown>;
  const cpu = process.cpuUsage();
  delete result.warmup;
  process.stdout.write(JSON.stringify({ ...result, cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 } }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
