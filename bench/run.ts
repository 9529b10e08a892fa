/**
 * `npm run bench`: gateway overhead on loopback, in one bounded run.
 *
 *   node bench/run.ts [--duration S] [--warmup S] [--connections N] [--no-fsync-off] [--profile]
 *                     [--only a,b,b',c,c'] [--skip-eval]
 *
 * Scenarios, all on 127.0.0.1 with OS-chosen ports, every server in its own process
 * (bench/server.ts) and the load generator in another (bench/load.ts, autocannon):
 *
 *   a  upstream      the demo CRM directly
 *   b  bare proxy    @fastify/http-proxy in front of the same CRM, no checks
 *   b' parse floor   the same proxy that parses each answer, keeps the persona's rows and
 *                    re-serializes, with no other check: what filtering alone costs here
 *   c  gateway       the full pipeline (JWT verify, posture, Salesforce adapter, Wasm policy,
 *                    decision log with fsync, forward, response filter), persona eu-rep
 *   c' gateway       the same with decisionLog.fsync off (skip with --no-fsync-off)
 *
 * The request is `SELECT <all Contact fields> FROM Contact LIMIT 50`: the CRM answers 50
 * records, the gateway keeps the caller's rows (acme, EU) and shows the restricted fields
 * because the caller's device posture is managed. Before each scenario one sample request is
 * checked (status, row count) and its body becomes autocannon's `expectBody`, so every answer
 * under load must be that same 200 body; any error, timeout, non-2xx or different body marks
 * the scenario INVALID instead of reporting its throughput as if it were fine.
 *
 * Then the policy engine alone (bench/policy-eval.ts), in this process, with no load running.
 *
 * Prints a table and writes the same results to bench/results/latest.json. `--profile` runs the
 * gateway processes with `node --cpu-prof` and prints their top self-time functions.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { validateConfig, type Config } from '../gateway/config/load.ts';
import { startDevIssuer, type DevIssuer } from '../gateway/demo/dev-issuer.ts';
import { findPersona, soqlPath } from '../gateway/demo/personas.ts';
import { OBJECT_FIELDS } from '../gateway/demo/crm-data.ts';
import { POSTURE_HEADER } from '../gateway/demo/print-commands.ts';
import { measurePolicyEval, type PolicyEvalResult } from './policy-eval.ts';
import type { ClosedMessage, CpuMessage, ReadyMessage } from './server.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const PREFIX = '/sf';
const PERSONA = 'eu-rep';
const SOQL = `SELECT ${OBJECT_FIELDS.Contact.join(', ')} FROM Contact LIMIT 50`;
const EXPECTED_UPSTREAM_ROWS = 50;
/** The rows the persona may see (its tenant and region): what scenario b' keeps without any check. */
const KEEP = { Tenant__c: 'acme', Region__c: 'EU' } as const;
const TARGETS = { gatewayToProxyRatio: 0.5, evalP50Us: 50 } as const;

// ---- options ---------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    'no-fsync-off': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'skip-eval': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
  strict: true,
});
const positiveInt = (name: string, v: string, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    process.stderr.write(`--${name} must be an integer from 0 to ${max}\n`);
    process.exit(2);
  }
  return n;
};
const DURATION = positiveInt('duration', args.duration, 300) || 1;
const WARMUP = positiveInt('warmup', args.warmup, 60);
const CONNECTIONS = positiveInt('connections', args.connections, 1000) || 1;
const SCENARIOS = ['a', 'b', "b'", 'c', "c'"] as const;
/** `--only`: the scenarios to run (for iterating on one of them; the ratios need b and c). */
const ONLY = new Set(args.only === undefined ? SCENARIOS : args.only.split(',').map((x) => x.trim()));
for (const id of ONLY) {
  if (!(SCENARIOS as readonly string[]).includes(id)) {
    process.stderr.write(`--only takes a comma list of ${SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
}
if (args['no-fsync-off']) ONLY.delete("c'");

// ---- child processes -------------------------------------------------------------------------

type Server = {
  readonly kind: string;
  readonly url: string;
  readonly pid: number;
  /** CPU ms so far: the process's total, and per thread kind where the OS tells (see CpuMessage). */
  cpu(): Promise<{ total: number; threads?: Readonly<Record<string, number>> }>;
  close(): Promise<ClosedMessage>;
};

function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const onMessage = (m: { type?: string }) => {
      if (m.type !== type) return;
      cleanup();
      resolvePromise(m as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`server process exited (code ${code}) before sending '${type}'`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function startServer(kind: 'upstream' | 'proxy' | 'proxy-filter' | 'gateway', arg?: unknown, profileDir?: string): Promise<Server> {
  const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = fork(join(here, 'server.ts'), arg === undefined ? [kind] : [kind, JSON.stringify(arg)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await nextMessage<ReadyMessage>(child, 'ready');
  let closed: Promise<ClosedMessage> | undefined;
  return {
    kind,
    url: ready.url,
    pid: ready.pid,
    async cpu() {
      const reply = nextMessage<CpuMessage>(child, 'cpu');
      child.send({ type: 'cpu' });
      const m = await reply;
      return { total: m.userMs + m.systemMs, ...(m.threads ? { threads: m.threads } : {}) };
    },
    close() {
      closed ??= (async () => {
        const msg = nextMessage<ClosedMessage>(child, 'closed');
        const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
        child.send({ type: 'close' });
        const m = await msg;
        await exited;
        return m;
      })();
      return closed;
    },
  };
}

type LoadResult = {
  requests: { average: number; total: number; stddev: number };
  latency: { p50: number; p90: number; p99: number; average: number; max: number };
  throughput: { average: number };
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  '2xx': number;
  statusCodeStats: Record<string, { count: number }>;
  cpu: { userMs: number; systemMs: number };
};

function runLoad(url: string, opts: { headers?: Record<string, string>; expectBody: string }): Promise<LoadResult> {
  const o = { connections: CONNECTIONS, duration: DURATION, warmup: WARMUP, ...opts };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(here, 'load.ts'), url, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with code ${code}`));
      try {
        resolvePromise(JSON.parse(out) as LoadResult);
      } catch (err) {
        reject(new Error(`load generator printed no JSON result: ${(err as Error).message}`));
      }
    });
  });
}

// ---- one scenario ----------------------------------------------------------------------------

type Sample = { status: number; body: string; rows: number; totalSize: number };

async function sample(url: string, headers: Record<string, string> = {}): Promise<Sample> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  let rows = -1;
  let totalSize = -1;
  try {
    const doc = JSON.parse(body) as { records?: unknown[]; totalSize?: number };
    rows = Array.isArray(doc.records) ? doc.records.length : -1;
    totalSize = typeof doc.totalSize === 'number' ? doc.totalSize : -1;
  } catch {
    // rows stays -1: not a query result
  }
  return { status: res.status, body, rows, totalSize };
}

type ScenarioResult = {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly valid: boolean;
  readonly problems: string[];
  readonly rps: number;
  readonly requests: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number; readonly max: number };
  readonly rows: number;
  readonly bodyBytes: number;
  readonly counts: { readonly ok2xx: number; readonly non2xx: number; readonly errors: number; readonly timeouts: number; readonly mismatches: number; readonly resets: number; readonly statusCodes: Record<string, number> };
  /** CPU use over warm-up + measured run, in % of one core. */
  readonly cpuPercent: { readonly front?: number; readonly upstream: number; readonly loader: number };
  /** The front server's CPU by thread kind (main = its event loop), in % of one core (Linux). */
  readonly frontThreads?: Readonly<Record<string, number>>;
  readonly decisionLog?: { readonly fsync: boolean; readonly records: number; readonly failed: number; readonly bytes: number };
};

async function scenario(a: {
  id: string;
  name: string;
  url: string;
  front?: Server;
  upstream: Server;
  headers?: Record<string, string>;
  check: (s: Sample) => string | undefined;
}): Promise<{ result: Omit<ScenarioResult, 'decisionLog'>; sample: Sample }> {
  const s = await sample(a.url, a.headers);
  const wrong = a.check(s);
  if (wrong !== undefined) throw new Error(`${a.id} ${a.name}: sample request to ${a.url}: ${wrong}\n${s.body.slice(0, 500)}`);
  process.stderr.write(`  ${a.id.padEnd(3)} ${a.name}: ${WARMUP} s warm-up + ${DURATION} s, ${CONNECTIONS} connections …\n`);
  const cpu0 = { front: await a.front?.cpu(), upstream: (await a.upstream.cpu()).total };
  const t0 = performance.now();
  const r = await runLoad(a.url, { ...(a.headers ? { headers: a.headers } : {}), expectBody: s.body });
  const wall = performance.now() - t0;
  const cpu1 = { front: await a.front?.cpu(), upstream: (await a.upstream.cpu()).total };
  const pct = (ms: number) => Math.round((ms / wall) * 100);

  const problems: string[] = [];
  if (r.errors > 0) problems.push(`${r.errors} connection errors`);
  if (r.timeouts > 0) problems.push(`${r.timeouts} timeouts`);
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx (${Object.entries(r.statusCodeStats).map(([c, v]) => `${c}×${v.count}`).join(', ')})`);
  if (r.mismatches > 0) problems.push(`${r.mismatches} bodies differ from the checked sample`);
  if (r['2xx'] === 0) problems.push('no successful responses');
  const statusCodes: Record<string, number> = {};
  for (const [c, v] of Object.entries(r.statusCodeStats)) statusCodes[c] = v.count;
  const cpuPercent: { front?: number; upstream: number; loader: number } = {
    upstream: pct(cpu1.upstream - cpu0.upstream),
    loader: pct(r.cpu.userMs + r.cpu.systemMs),
  };
  let frontThreads: Record<string, number> | undefined;
  if (cpu0.front !== undefined && cpu1.front !== undefined) {
    cpuPercent.front = pct(cpu1.front.total - cpu0.front.total);
    const t0 = cpu0.front.threads;
    const t1 = cpu1.front.threads;
    if (t0 && t1) frontThreads = Object.fromEntries(Object.keys(t1).map((k) => [k, pct((t1[k] ?? 0) - (t0[k] ?? 0))]));
  }
  return {
    sample: s,
    result: {
      id: a.id,
      name: a.name,
      url: a.url,
      valid: problems.length === 0,
      problems,
      rps: Math.round(r.requests.average),
      requests: r.requests.total,
      latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.average, max: r.latency.max },
      rows: s.rows,
      bodyBytes: Buffer.byteLength(s.body),
      counts: { ok2xx: r['2xx'], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, mismatches: r.mismatches, resets: r.resets, statusCodes },
      cpuPercent,
      ...(frontThreads ? { frontThreads } : {}),
    },
  };
}

// ---- the gateway -----------------------------------------------------------------------------

function gatewayRawConfig(issuer: DevIssuer, upstreamUrl: string, decisionDir: string, fsync: boolean) {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    gateway: { region: 'EU', instanceId: 'bench' },
    upstreams: [{ name: 'demo-crm', url: upstreamUrl, prefix: PREFIX, adapter: 'salesforce' }],
    issuers: [{ issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], allowInsecureHttp: true }],
    deviceTrust: { issuer: issuer.deviceTrust.issuer, jwks: issuer.deviceTrust.jwks },
    policy: { bundle: 'dist/bundle.tar.gz' },
    decisionLog: { dir: decisionDir, durability: fsync ? 'fsync' : 'none' },
    logging: { level: 'warn' },
  };
}

async function personaHeaders(issuer: DevIssuer): Promise<Record<string, string>> {
  const p = findPersona(PERSONA);
  if (!p?.posture) throw new Error(`persona ${PERSONA} with a device posture is missing`);
  // Signed per scenario: the posture assertion lives 10 minutes, the access token an hour.
  const token = await issuer.signAccessToken(p.claims);
  const posture = await issuer.signPosture({ sub: String(p.claims.sub), ...p.posture });
  return { authorization: `Bearer ${token}`, [POSTURE_HEADER]: posture };
}

async function gatewayScenario(a: {
  id: string;
  fsync: boolean;
  issuer: DevIssuer;
  upstream: Server;
  tmp: string;
  profileDir?: string;
}): Promise<ScenarioResult> {
  const dir = join(a.tmp, `decisions-${a.fsync ? 'fsync' : 'nofsync'}`);
  const gw = await startServer('gateway', gatewayRawConfig(a.issuer, a.upstream.url, dir, a.fsync), a.profileDir);
  try {
    const headers = await personaHeaders(a.issuer);
    const { result } = await scenario({
      id: a.id,
      name: `gateway, full pipeline, decision log fsync ${a.fsync ? 'ON' : 'off'}`,
      url: gw.url + PREFIX + soqlPath(SOQL),
      front: gw,
      upstream: a.upstream,
      headers,
      check: (s) => {
        if (s.status !== 200) return `status ${s.status}, expected 200`;
        if (s.rows <= 0 || s.rows >= EXPECTED_UPSTREAM_ROWS) return `${s.rows} rows; expected some but not all of ${EXPECTED_UPSTREAM_ROWS} (the policy filters rows)`;
        if (s.totalSize !== s.rows) return `totalSize ${s.totalSize} but ${s.rows} records`;
        return undefined;
      },
    });
    const closed = await gw.close();
    const log = closed.decisionLog!;
    // Every segment of the run (the log rotates at decisionLog.segmentBytes).
    const segDir = dirname(log.file);
    let bytes = 0;
    for (const name of (await readdir(segDir)).filter((n) => n.endsWith('.jsonl'))) bytes += (await stat(join(segDir, name))).size;
    const problems = [...result.problems];
    if (log.failed > 0) problems.push(`${log.failed} decision-log writes failed`);
    if (closed.policy && closed.policy.errors > 0) problems.push(`${closed.policy.errors} policy evaluation errors`);
    // Two records per request (decision, outcome); the sample, the warm-up and requests still in
    // flight when autocannon stopped are in the log too, so "at least".
    if (log.written < 2 * result.requests) problems.push(`decision log has ${log.written} records for ${result.requests} requests`);
    await rm(dir, { recursive: true, force: true });
    return { ...result, valid: problems.length === 0, problems, decisionLog: { fsync: a.fsync, records: log.written, failed: log.failed, bytes } };
  } finally {
    await gw.close();
  }
}

// ---- profile summary -------------------------------------------------------------------------

type CpuProfile = {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
};

/** Top self-time functions of a .cpuprofile, as [label, % of samples]. */
async function topFunctions(file: string, n: number): Promise<{ fn: string; selfPercent: number }[]> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((nd) => [nd.id, nd]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const nd = byId.get(id);
    const dt = p.timeDeltas[i] ?? 0;
    if (!nd) return;
    const f = nd.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(root + '/', '')}:${f.lineNumber + 1}` : '';
    const label = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(label, (self.get(label) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([fn, t]) => ({ fn, selfPercent: Math.round((t / total) * 1000) / 10 }));
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const tmp = await mkdtemp(join(tmpdir(), 'crm-gw-bench-'));
  const profileDir = args.profile ? join(here, 'results', 'profiles', started.toISOString().replace(/[:.]/g, '-')) : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const cores = cpus();
  process.stderr.write(
    `bench: ${cores.length} cores (${cores[0]?.model ?? '?'}), node ${process.version}; ` +
      `each scenario ${WARMUP} s warm-up + ${DURATION} s measured, ${CONNECTIONS} connections\n`,
  );

  const issuer = await startDevIssuer(); // in this process: it only serves discovery + JWKS at gateway start
  const upstream = await startServer('upstream');
  const opened: Server[] = [upstream];
  const results: ScenarioResult[] = [];
  let policy: PolicyEvalResult | undefined;
  let profiles: { file: string; top: { fn: string; selfPercent: number }[] }[] = [];
  try {
    // a: the CRM directly (its answer is b's expected body, so it is sampled even when not run)
    const directUrl = upstream.url + soqlPath(SOQL);
    const directCheck = (s: Sample) =>
      s.status !== 200 ? `status ${s.status}` : s.rows !== EXPECTED_UPSTREAM_ROWS ? `${s.rows} records, expected ${EXPECTED_UPSTREAM_ROWS}` : undefined;
    let directBody: string;
    if (ONLY.has('a')) {
      const direct = await scenario({ id: 'a', name: 'upstream (demo CRM) directly', url: directUrl, upstream, check: directCheck });
      results.push(direct.result);
      directBody = direct.sample.body;
    } else {
      const s = await sample(directUrl);
      const wrong = directCheck(s);
      if (wrong !== undefined) throw new Error(`sample request to ${directUrl}: ${wrong}`);
      directBody = s.body;
    }

    // b: bare @fastify/http-proxy
    if (ONLY.has('b')) {
      const proxy = await startServer('proxy', { upstream: upstream.url });
      opened.push(proxy);
      const bare = await scenario({
        id: 'b',
        name: 'bare @fastify/http-proxy, no checks',
        url: proxy.url + PREFIX + soqlPath(SOQL),
        front: proxy,
        upstream,
        check: (s) => (s.status !== 200 ? `status ${s.status}` : s.body !== directBody ? 'body differs from the upstream answer' : undefined),
      });
      await proxy.close();
      results.push(bare.result);
    }

    // b': the same proxy that only parses, filters rows and re-serializes (no checks at all)
    if (ONLY.has("b'")) {
      const floor = await startServer('proxy-filter', { upstream: upstream.url, keep: KEEP });
      opened.push(floor);
      const parsing = await scenario({
        id: "b'",
        name: 'bare proxy + JSON.parse, row filter, stringify',
        url: floor.url + PREFIX + soqlPath(SOQL),
        front: floor,
        upstream,
        check: (s) => (s.status !== 200 ? `status ${s.status}` : s.rows <= 0 || s.rows >= EXPECTED_UPSTREAM_ROWS ? `${s.rows} rows; expected some but not all` : undefined),
      });
      await floor.close();
      results.push(parsing.result);
    }

    // c, c': the gateway
    if (ONLY.has('c')) results.push(await gatewayScenario({ id: 'c', fsync: true, issuer, upstream, tmp, ...(profileDir ? { profileDir } : {}) }));
    if (ONLY.has("c'")) {
      results.push(await gatewayScenario({ id: "c'", fsync: false, issuer, upstream, tmp, ...(profileDir ? { profileDir } : {}) }));
    }

    // the policy engine alone, no load running
    if (!args['skip-eval']) {
    process.stderr.write('  policy evaluation in-process …\n');
    const cfg: Config = validateConfig(gatewayRawConfig(issuer, upstream.url, join(tmp, 'unused'), true), root);
    const persona = findPersona(PERSONA)!;
    policy = await measurePolicyEval({
      config: cfg,
      target: PREFIX + soqlPath(SOQL),
      claims: { iss: issuer.issuer, aud: issuer.audience, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600, ...persona.claims },
      posture: { ...persona.posture!, age_s: 0 },
      durationMs: 3000,
      maxIterations: 200_000,
      warmupIterations: 2000,
    });
    }

    if (profileDir) {
      const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile')).sort();
      profiles = await Promise.all(files.map(async (f) => ({ file: join(profileDir, f), top: await topFunctions(join(profileDir, f), 15) })));
    }
  } finally {
    for (const s of opened.reverse()) await s.close().catch(() => undefined);
    await issuer.close();
    await rm(tmp, { recursive: true, force: true });
  }

  // ---- report --------------------------------------------------------------------------------

  const proxyRes = results.find((r) => r.id === 'b');
  const ratios = results
    .filter((r) => r.decisionLog !== undefined)
    .map((r) => ({
      scenario: r.id,
      fsync: r.decisionLog!.fsync,
      ratio: r.valid && proxyRes?.valid ? Math.round((r.rps / proxyRes.rps) * 1000) / 1000 : null,
    }));
  const floorRes = results.find((r) => r.id === "b'");
  const floorRatio = floorRes?.valid && proxyRes?.valid ? Math.round((floorRes.rps / proxyRes.rps) * 1000) / 1000 : null;
  const how =
    `loopback 127.0.0.1, OS-chosen ports; upstream, bare proxy and gateway each in their own node process, ` +
    `autocannon in another (${CONNECTIONS} connections, pipelining 1, ${WARMUP} s warm-up discarded, ${DURATION} s measured); ` +
    `${cores.length} cores shared by all of them (load generator + front server + upstream compete for CPU)`;
  const report = {
    startedAt: started.toISOString(),
    how,
    machine: { cores: cores.length, model: cores[0]?.model ?? '', memoryMiB: Math.round(totalmem() / 2 ** 20), node: process.version, platform: process.platform },
    request: { soql: SOQL, persona: PERSONA, upstreamRows: EXPECTED_UPSTREAM_ROWS, gatewayRows: results.find((r) => r.id === 'c')?.rows },
    options: { durationS: DURATION, warmupS: WARMUP, connections: CONNECTIONS },
    scenarios: results,
    ratios,
    floorRatio,
    policyEvaluation: policy,
    targets: {
      gatewayToProxyRatio: { target: TARGETS.gatewayToProxyRatio, fsyncOn: ratios.find((r) => r.fsync)?.ratio ?? null, fsyncOff: ratios.find((r) => !r.fsync)?.ratio ?? null },
      evalP50Us: { target: TARGETS.evalP50Us, measured: policy?.us.p50 ?? null },
    },
    ...(profiles.length > 0 ? { profiles } : {}),
  };
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'latest.json'), JSON.stringify(report, null, 2) + '\n');

  const out: string[] = [];
  const row = (cells: string[], widths: number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const widths = [52, 8, 8, 8, 5, 16, 7];
  out.push('');
  out.push(`How: ${how}.`);
  out.push(`Request: GET ${soqlPath(SOQL).slice(0, 60)}… (${SOQL.length} chars of SOQL), persona ${PERSONA} (managed device).`);
  out.push('');
  out.push(row(['scenario', 'req/s', 'p50 ms', 'p99 ms', 'rows', 'CPU% fr/up/load', 'status'], widths));
  for (const r of results) {
    const cpu = `${r.cpuPercent.front ?? '-'}/${r.cpuPercent.upstream}/${r.cpuPercent.loader}`;
    out.push(
      row(
        [`${r.id.padEnd(2)} ${r.name}`, r.valid ? String(r.rps) : `(${r.rps})`, r.latencyMs.p50.toFixed(0), r.latencyMs.p99.toFixed(0), String(r.rows), cpu, r.valid ? 'ok' : 'INVALID'],
        widths,
      ),
    );
    for (const p of r.problems) out.push(`     ! ${p}`);
  }
  for (const r of results.filter((x) => x.frontThreads)) {
    const t = r.frontThreads!;
    out.push(`${r.id.padEnd(2)} front server CPU by thread: event loop ${t['main']}%, V8 workers (GC, compiler) ${t['v8']}%, libuv pool ${t['libuv']}%, other ${t['other']}%`);
  }
  out.push('');
  out.push(`rows: the upstream answers ${EXPECTED_UPSTREAM_ROWS} records; the gateway returns ${results.find((r) => r.id === 'c')?.rows ?? '?'} (acme/EU rows only for ${PERSONA}).`);
  for (const r of results.filter((x) => x.decisionLog)) {
    const d = r.decisionLog!;
    out.push(`decision log (${r.id}, fsync ${d.fsync ? 'on' : 'off'}): ${d.records} records (${(d.bytes / 2 ** 20).toFixed(1)} MiB), ${d.failed} failed.`);
  }
  for (const q of ratios) {
    out.push(
      `gateway / bare proxy throughput (${q.scenario}, fsync ${q.fsync ? 'on' : 'off'}): ` +
        (q.ratio === null ? (proxyRes ? 'n/a — a scenario had errors' : 'n/a — b not run') : `${(q.ratio * 100).toFixed(1)}%  (target ≥ ${TARGETS.gatewayToProxyRatio * 100}%: ${q.ratio >= TARGETS.gatewayToProxyRatio ? 'met' : 'MISSED'})`),
    );
  }
  if (floorRes) {
    out.push(
      `b' / bare proxy throughput: ${floorRatio === null ? 'n/a — a scenario had errors' : `${(floorRatio * 100).toFixed(1)}%`}` +
        ` (parse, keep ${Object.entries(KEEP).map(([k, v]) => `${k} = ${v}`).join(', ')}, stringify; no checks: what filtering a response costs by itself here)`,
    );
  }
  if (policy) {
    out.push(
      `policy evaluation in-process (${policy.iterations} calls, input ${policy.inputBytes} B, allow with ${policy.decision.rowCondition ? 'a row condition' : 'no row condition'} and ${policy.decision.fieldRules} field rules): ` +
        `p50 ${policy.us.p50} µs, p90 ${policy.us.p90} µs, p99 ${policy.us.p99} µs  (target p50 ≤ ${TARGETS.evalP50Us} µs: ${policy.us.p50 <= TARGETS.evalP50Us ? 'met' : 'MISSED'})`,
    );
  }
  for (const p of profiles) {
    out.push('');
    out.push(`CPU profile ${p.file.replace(root + '/', '')} — top self time:`);
    for (const t of p.top) out.push(`  ${t.selfPercent.toFixed(1).padStart(5)}%  ${t.fn}`);
  }
  out.push('');
  out.push(`results: ${join(here, 'results', 'latest.json').replace(root + '/', '')}`);
  process.stdout.write(out.join('\n') + '\n');
  if (results.some((r) => !r.valid)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
