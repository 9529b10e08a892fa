/**
 * One server under test, in its own process (started by bench/run.ts with child_process.fork):
 *
 *   node bench/server.ts upstream                   the demo CRM (gateway/demo/crm-upstream.ts)
 *   node bench/server.ts proxy '{"upstream": URL}'  a bare @fastify/http-proxy, no checks
 *   node bench/server.ts proxy-filter '{"upstream": URL, "keep": {field: value}}'
 *                                                   the same proxy that parses each answer, keeps
 *                                                   the records matching `keep` and re-serializes:
 *                                                   the least a response-filtering gateway does
 *   node bench/server.ts gateway '<raw config>'     the real gateway: validateConfig + startGateway
 *
 * Each listens on 127.0.0.1 on an OS-chosen port and reports `{type: 'ready', url, pid}` over
 * the IPC channel, answers `{type: 'cpu'}` with its CPU time so far, and on `{type: 'close'}` it closes, reports `{type: 'closed', cpu, …}` (its CPU
 * time since it became ready, and for the gateway the decision log's counters) and exits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import { startDemoCrm } from '../gateway/demo/crm-upstream.ts';
import { validateConfig } from '../gateway/config/load.ts';
import { startGateway } from '../gateway/start.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type ServerKind = 'upstream' | 'proxy' | 'proxy-filter' | 'gateway';
export type ReadyMessage = { readonly type: 'ready'; readonly url: string; readonly pid: number };
/**
 * Reply to `{type: 'cpu'}`: this process's CPU time so far, and (Linux) per thread kind: `main`
 * (the event loop), `v8` (V8's worker threads: GC, compiler), `libuv` (the pool: file I/O,
 * crypto jobs), `other`. The split shows whether the event loop is what limits a scenario.
 */
export type CpuMessage = { readonly type: 'cpu'; readonly userMs: number; readonly systemMs: number; readonly threads?: Readonly<Record<string, number>> };
export type ClosedMessage = {
  readonly type: 'closed';
  readonly cpu: { readonly userMs: number; readonly systemMs: number; readonly wallMs: number };
  readonly decisionLog?: { readonly file: string; readonly written: number; readonly failed: number };
  readonly policy?: { readonly evaluations: number; readonly errors: number };
};

type Running = { readonly url: string; close(): Promise<Omit<ClosedMessage, 'type' | 'cpu'>> };

/** Listen on 127.0.0.1, an OS-chosen port; closing closes the app. */
async function listening(app: FastifyInstance, kind: string): Promise<Running> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error(`${kind}: no TCP address`);
  return {
    url: `http://127.0.0.1:${addr.port}`,
    async close() {
      await app.close();
      return {};
    },
  };
}

async function start(kind: string, arg: string | undefined): Promise<Running> {
  switch (kind) {
    case 'upstream': {
      const crm = await startDemoCrm();
      // The demo CRM records every request it receives (for tests); under load that list would
      // grow by hundreds of thousands of entries and its GC cost would drift into the upstream
      // numbers. Nothing in the benchmark reads it, so it is emptied every second.
      const trim = setInterval(() => {
        (crm.requests as unknown[]).length = 0;
      }, 1000);
      trim.unref();
      return {
        url: crm.url,
        async close() {
          clearInterval(trim);
          await crm.close();
          return {};
        },
      };
    }
    case 'proxy': {
      const { upstream } = JSON.parse(arg ?? '{}') as { upstream?: string };
      if (upstream === undefined) throw new Error('proxy: upstream URL missing');
      const app = Fastify({ logger: false });
      await app.register(httpProxy, { upstream, prefix: '/sf' });
      return listening(app, 'proxy');
    }
    case 'proxy-filter': {
      // No checks, no log, no duplicate-key or depth guard: only JSON.parse, a row predicate and
      // JSON.stringify on top of the bare proxy. A floor for the gateway, not a gateway.
      const { upstream, keep } = JSON.parse(arg ?? '{}') as { upstream?: string; keep?: Record<string, unknown> };
      if (upstream === undefined || keep === undefined) throw new Error('proxy-filter: upstream URL or keep missing');
      const want = Object.entries(keep);
      const app = Fastify({ logger: false });
      await app.register(httpProxy, {
        upstream,
        prefix: '/sf',
        replyOptions: {
          onResponse: (_request: unknown, reply: { removeHeader(h: string): unknown; send(b: unknown): unknown }, res: { stream: AsyncIterable<Buffer> }) => {
            void (async () => {
              const chunks: Buffer[] = [];
              for await (const c of res.stream) chunks.push(c);
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { totalSize: number; records: Record<string, unknown>[] };
              body.records = body.records.filter((r) => want.every(([k, v]) => r[k] === v));
              body.totalSize = body.records.length;
              reply.removeHeader('content-length');
              reply.send(Buffer.from(JSON.stringify(body)));
            })();
          },
        },
      } as Parameters<typeof httpProxy>[1]);
      return listening(app, 'proxy-filter');
    }
    case 'gateway': {
      const gw = await startGateway(validateConfig(JSON.parse(arg ?? '{}'), root));
      return {
        url: gw.url,
        async close() {
          const policy = gw.engine.status();
          await gw.close();
          const log = gw.decisionLog.status();
          return {
            decisionLog: { file: log.file, written: log.written, failed: log.failed },
            policy: { evaluations: policy.evaluations, errors: policy.errors },
          };
        },
      };
    }
    default:
      throw new Error(`unknown server kind ${JSON.stringify(kind)} (upstream | proxy | proxy-filter | gateway)`);
  }
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every Linux architecture Node runs on). */
const TICKS_PER_S = 100;

/** CPU ms per thread kind from /proc/self/task, or undefined where there is no /proc. */
function threadCpuMs(): Record<string, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const out: Record<string, number> = { main: 0, v8: 0, libuv: 0, other: 0 };
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the parenthesized name: state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S;
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const kind = tid === String(process.pid) ? 'main' : name.startsWith('V8Worker') ? 'v8' : name.startsWith('libuv-worker') ? 'libuv' : 'other';
      out[kind]! += ms;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('bench/server.ts is started by bench/run.ts (needs an IPC channel)');
  const [kind = '', arg] = process.argv.slice(2);
  const running = await start(kind, arg);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'cpu') {
      const c = process.cpuUsage();
      const threads = threadCpuMs();
      const msg: CpuMessage = { type: 'cpu', userMs: c.user / 1000, systemMs: c.system / 1000, ...(threads ? { threads } : {}) };
      process.send!(msg);
      return;
    }
    if (m.type !== 'close') return;
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    running.close().then(
      (extra) => {
        const msg: ClosedMessage = { type: 'closed', cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000, wallMs }, ...extra };
        process.send!(msg, () => {
          process.disconnect();
          // Everything is closed, so the process should end by itself; if a stray handle keeps
          // it alive, end it anyway (a normal exit, so --cpu-prof still writes its profile).
          setTimeout(() => process.exit(0), 2000).unref();
        });
      },
      (err: unknown) => {
        process.stderr.write(`server ${kind}: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
  const ready: ReadyMessage = { type: 'ready', url: running.url, pid: process.pid };
  process.send(ready);
}

main().catch((err: unknown) => {
  process.stderr.write(`server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
