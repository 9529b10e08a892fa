/**
 * `npm run bench:audit`: the decision log alone (audit/decision-log.ts), group commit on a temp
 * folder of this machine's disk, no HTTP.
 *
 *   node bench/audit.ts [--duration S] [--modes fsync,batch,none] [--concurrency 1,16,256] [--json]
 *
 * For each durability mode and concurrency C: C appenders each append a decision record (about
 * the size the gateway writes, ~900 bytes) and await it, in a loop, for S seconds (default 3).
 * Reports records/s and the time each append waited until its batch was written (and synced, per
 * the mode): p50, p99, max. That wait is what a request gains from the log, twice per allowed
 * request (decision and outcome). Target (issue 4 §8): ≥ 50,000 records/s at 256 concurrent with
 * fsync, p99 wait ≤ 2 ms.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDecisionLog, type Durability } from '../audit/decision-log.ts';
import type { LogRecord } from '../audit/event.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'fsync,batch,none' },
    concurrency: { type: 'string', default: '1,16,256' },
    json: { type: 'boolean', default: false },
    dir: { type: 'string' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const MODES = args.modes!.split(',') as Durability[];
const CONCURRENCY = args.concurrency!.split(',').map(Number);

function record(i: number): LogRecord {
  return {
    kind: 'decision',
    v: 1,
    decision_id: `0194f3c2-7b1a-7c3e-9d2f-${String(i).padStart(12, '0')}`,
    timestamp: new Date().toISOString(),
    path: 'crm/authz/decision',
    bundles: { policy: { revision: 'sha256:91018018ec6441d3206c1a79a540c059' } },
    labels: { instance_id: 'bench', version: '0.1.0', gateway_region: 'EU' },
    decided_by: 'policy',
    input: {
      subject: { iss: 'http://127.0.0.1:41000', sub: 'eu-rep@acme.example', tenant: 'acme', regions: ['EU'], roles: ['sales_rep'], clearance: 'confidential', client_id: 'crm-web' },
      device: { managed: true, compliant: true, age_s: 12 },
      request: { method: 'GET', path: '/services/data/v60.0/query', query: { q: 'SELECT Id, Name, Email, Phone, Tenant__c, Region__c FROM Contact LIMIT 50' } },
      resource: { object: 'Contact', action: 'read' },
      env: { gateway_region: 'EU' },
    },
    result: { allow: true, reasons: [], obligations: { row_filter: { field: 'Tenant__c', op: 'eq', value: 'acme' }, mask_fields: ['Email'] } },
    allow: true,
    reasons: [],
    erased: [],
    provenance: { bundle_sha256: '3d9c2f0e8e3b6b8b7c0a3f1e2d4c5b6a79881726354433221100ffeeddccbbaa', gateway_version: '0.1.0' },
  } as unknown as LogRecord;
}

type Row = { mode: Durability; concurrency: number; records: number; seconds: number; rps: number; p50: number; p99: number; max: number; syncs?: number };

const pct = (sorted: Float64Array, q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

async function run(mode: Durability, concurrency: number): Promise<Row> {
  const dir = await mkdtemp(join(args.dir ?? tmpdir(), 'gw-bench-audit-'));
  let syncs = 0;
  const log = await openDecisionLog({ dir, durability: mode, instanceId: 'bench', sync: (fh) => (syncs++, fh.datasync()) });
  let waits = new Float64Array(1 << 16);
  let n = 0;
  let i = 0;
  // warm-up (JIT, file creation) not measured
  await Promise.all(Array.from({ length: Math.min(concurrency, 64) }, () => log.append(record(i++))));
  syncs = 0;
  const started = performance.now();
  const end = started + DURATION_MS;
  const appender = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await log.append(record(i++));
      const w = performance.now() - t0;
      if (n === waits.length) {
        const bigger = new Float64Array(waits.length * 2);
        bigger.set(waits);
        waits = bigger;
      }
      waits[n++] = w;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, appender));
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  await rm(dir, { recursive: true, force: true });
  const sorted = waits.subarray(0, n).sort();
  return { mode, concurrency, records: n, seconds, rps: n / seconds, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted[n - 1] ?? NaN, syncs };
}

const rows: Row[] = [];
for (const mode of MODES) {
  for (const c of CONCURRENCY) {
    process.stderr.write(`  ${mode}, ${c} concurrent, ${DURATION_MS / 1000} s …\n`);
    rows.push(await run(mode, c));
  }
}

if (args.json) console.log(JSON.stringify(rows, null, 2));
else {
  const f = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));
  console.log(`decision log group commit, ${DURATION_MS / 1000} s per row, node ${process.version}, temp dir ${args.dir ?? tmpdir()}`);
  console.log('| durability | concurrent appenders | records/s | p50 wait ms | p99 wait ms | max ms | fdatasyncs/s |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.mode} | ${r.concurrency} | ${Math.round(r.rps).toLocaleString('en-US')} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${Math.round((r.syncs ?? 0) / r.seconds)} |`);
  const target = rows.find((r) => r.mode === 'fsync' && r.concurrency === 256);
  if (target) {
    const ok = target.rps >= 50_000 && target.p99 <= 2;
    console.log(`target (fsync, 256 concurrent: ≥ 50,000 records/s, p99 wait ≤ 2 ms): ${ok ? 'MET' : 'MISSED'} (${Math.round(target.rps).toLocaleString('en-US')} records/s, p99 ${f(target.p99)} ms)`);
  }
}
