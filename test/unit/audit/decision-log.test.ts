import t from 'tap';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalLine, openDecisionLog } from '../../../audit/decision-log.ts';
import { GENESIS, chainedLine, hashLine } from '../../../audit/chain.ts';
import type { LogRecord } from '../../../audit/event.ts';

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-decisions-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const labels = { instance_id: 'gw-1', version: '0.1.0', gateway_region: 'EU' };
function decision(i: number): LogRecord {
  return {
    kind: 'decision',
    v: 1,
    decision_id: `d-${String(i).padStart(4, '0')}`,
    timestamp: '2026-11-25T15:00:00.000Z',
    path: 'crm/authz/decision',
    bundles: { policy: { revision: 'sha256:00' } },
    labels,
    decided_by: 'policy',
    input: { subject: { id: 'u', roles: ['b', 'a'] }, request: { method: 'GET' } },
    result: { allow: true, reasons: [], obligations: {} },
    allow: true,
    reasons: [],
    erased: [],
    provenance: { bundle_sha256: '00', gateway_version: '0.1.0' },
  };
}

t.test('canonicalLine: RFC 8785 canonical JSON plus a newline', async (t) => {
  t.equal(canonicalLine({ b: 1, a: [1, 'x'] }), '{"a":[1,"x"],"b":1}\n');
  const cases: [unknown, string][] = [
    [{ z: { y: 1, x: 2 }, a: null }, '{"a":null,"z":{"x":2,"y":1}}\n'],
    [{ n: [1.0, -0, 1e21, 0.1, 1e-7, 100] }, '{"n":[1,0,1e+21,0.1,1e-7,100]}\n'],
    [{ s: 'é\u2028"\\\n\u0001' }, '{"s":"é\u2028\\"\\\\\\n\\u0001"}\n'],
    [{ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, a: 4 }, '{"\\r":2,"a":4,"\u20ac":1,"\ud83d\ude00":3}\n'],
    [{ skip: undefined, keep: true }, '{"keep":true}\n'],
    [[], '[]\n'],
  ];
  cases.forEach(([v, want], i) => t.equal(canonicalLine(v), want, `case ${i}`));
  t.throws(() => canonicalLine(undefined), { message: 'record cannot be serialized' });
});

t.test('one canonical, chained line per record, in order, in <instance>/segment-<first seq>.jsonl', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir: join(dir, 'nested', 'logs'), durability: 'fsync', instanceId: 'gw/eu 1' });
  t.equal(log.file, join(dir, 'nested', 'logs', 'gw_eu_1', 'segment-000000000001.jsonl'), 'unsafe instance-id characters replaced');
  await log.append(decision(1));
  await log.append(decision(2));
  const text = await readFile(log.file, 'utf8');
  const line1 = chainedLine(decision(1), 1, GENESIS);
  t.equal(text, line1 + chainedLine(decision(2), 2, hashLine(line1)));
  const first = text.split('\n')[0]!;
  t.equal(first.slice(0, 60), '{"allow":true,"bundles":{"policy":{"revision":"sha256:00"}},');
  t.strictSame(JSON.parse(first), { ...decision(1), seq: 1, prev: GENESIS });
  t.equal(first + '\n', canonicalLine(JSON.parse(first)), 'the chain fields are part of the canonical object');
  t.strictSame(log.status(), { file: log.file, written: 2, failed: 0, healthy: true, durability: 'fsync', seq: 2 });
  t.equal((await stat(log.file)).mode & 0o777, 0o640);
  await log.close();
});

t.test('500 concurrent appends: every record present once, every line valid JSON', async (t) => {
  const dir = await tempDir(t);
  for (const durability of ['none', 'fsync', 'batch'] as const) {
    const log = await openDecisionLog({ dir, durability, instanceId: `c-${durability}` });
    await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(decision(i))));
    const lines = (await readFile(log.file, 'utf8')).split('\n');
    t.equal(lines.pop(), '', 'ends with a newline');
    t.equal(lines.length, 500, `${durability}: 500 lines`);
    const ids = lines.map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);
    t.strictSame(ids, Array.from({ length: 500 }, (_, i) => `d-${String(i).padStart(4, '0')}`), 'in append order');
    t.ok(lines.every((l) => l === canonicalLine(JSON.parse(l)).trimEnd()), 'every line is canonical');
    t.strictSame(log.status(), { file: log.file, written: 500, failed: 0, healthy: true, durability, seq: 500 });
    await log.close();
  }
});

t.test('reopening continues the chain in a new segment', async (t) => {
  const dir = await tempDir(t);
  const a = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw' });
  await a.append(decision(1));
  await a.close();
  const b = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw' });
  t.equal(b.file, join(dir, 'gw', 'segment-000000000002.jsonl'));
  await b.append(decision(2));
  await b.close();
  const line1 = chainedLine(decision(1), 1, GENESIS);
  t.equal(await readFile(a.file, 'utf8'), line1);
  t.equal(await readFile(b.file, 'utf8'), chainedLine(decision(2), 2, hashLine(line1)));
});

t.test('close waits for queued records; append after close rejects', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'gw' });
  const pending = Array.from({ length: 50 }, (_, i) => log.append(decision(i)));
  await log.close();
  await Promise.all(pending);
  t.equal((await readFile(log.file, 'utf8')).split('\n').length - 1, 50, 'records appended before close are written');
  await t.rejects(log.append(decision(99)), { message: 'decision log is closed' });
  t.strictSame(log.status(), { file: log.file, written: 50, failed: 1, healthy: false, durability: 'fsync', seq: 50 });
  t.equal((await readFile(log.file, 'utf8')).split('\n').length - 1, 50, 'nothing written after close');
});

t.test('a record that cannot be serialized rejects and counts as failed', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw' });
  await t.rejects(log.append({ ...decision(1), input: { n: 1n } } as unknown as LogRecord), TypeError);
  await log.append(decision(2));
  t.strictSame(log.status(), { file: log.file, written: 1, failed: 1, healthy: true, durability: 'none', seq: 1 });
  t.equal(await readFile(log.file, 'utf8'), chainedLine(decision(2), 1, GENESIS), 'the refused record took no seq');
  await log.close();
});

t.test('a folder that cannot be created fails at open', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  await t.rejects(openDecisionLog({ dir: join(file, 'sub'), durability: 'none', instanceId: 'gw' }), { code: 'ENOTDIR' });
});

t.test('durability batch: callers wait for the sync that covers them; syncs are spaced by batchIntervalMs', async (t) => {
  const dir = await tempDir(t);
  let syncs = 0;
  const syncTimes: number[] = [];
  const log = await openDecisionLog({
    dir,
    durability: 'batch',
    batchIntervalMs: 40,
    instanceId: 'gw',
    sync: async (fh) => {
      syncs++;
      syncTimes.push(performance.now());
      await fh.datasync();
    },
  });
  let resolved = 0;
  const all: Promise<void>[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 20; i++) all.push(log.append(decision(round * 20 + i)).then(() => void resolved++));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(all);
  t.equal(resolved, 100);
  t.ok(syncs >= 1 && syncs <= 3, `${syncs} syncs for 5 rounds of writes over ~50 ms`);
  // One assertion, whatever the number of syncs (a loop made the suite's count vary by run).
  const gaps = syncTimes.slice(1).map((at, i) => Math.round(at - syncTimes[i]!));
  t.ok(gaps.every((g) => g >= 35), `syncs at least batchIntervalMs apart (gaps ${gaps.join(', ') || 'none'} ms)`);
  t.match(log.status(), { written: 100, failed: 0, healthy: true, durability: 'batch', seq: 100 });
  await log.close();
});

t.test('durability batch: a failed sync refuses its callers and marks the log unhealthy until a sync succeeds', async (t) => {
  const dir = await tempDir(t);
  let fail = true;
  const log = await openDecisionLog({
    dir,
    durability: 'batch',
    batchIntervalMs: 5,
    instanceId: 'gw',
    sync: async (fh) => {
      if (fail) throw Object.assign(new Error('i/o error'), { code: 'EIO' });
      await fh.datasync();
    },
  });
  // allSettled, not all: all() settles at the first rejection, before the second caller's batch
  // may have failed (they can land in two batches under load).
  const settled = await Promise.allSettled([log.append(decision(1)), log.append(decision(2))]);
  t.same(settled.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'fulfilled')), ['EIO', 'EIO']);
  t.match(log.status(), { failed: 2, healthy: false });
  fail = false;
  await log.append(decision(3));
  t.match(log.status(), { written: 1, failed: 2, healthy: true, seq: 3 }, 'the unsynced lines stay in the file: the chain holds');
  await log.close();
});

t.test('durability none: no sync per batch, a warning; the deprecated fsync option maps to fsync/none', async (t) => {
  const dir = await tempDir(t);
  let syncs = 0;
  const log = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw', sync: async () => void syncs++ });
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(decision(i))));
  t.equal(syncs, 0);
  t.ok(log.warnings.some((w) => /^decisionLog\.durability is "none".*benchmarks only/i.test(w)), 'a loud warning');
  await log.close();
  const legacy = await openDecisionLog({ dir, fsync: false, instanceId: 'gw2' });
  t.equal(legacy.status().durability, 'none');
  await legacy.close();
  const synced = await openDecisionLog({ dir, fsync: true, instanceId: 'gw3' });
  t.equal(synced.status().durability, 'fsync');
  await synced.close();
});

t.test('durability fsync: one sync per batch', async (t) => {
  const dir = await tempDir(t);
  let syncs = 0;
  const log = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'gw', sync: async (fh) => void (syncs++, await fh.datasync()) });
  await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(decision(i))));
  t.ok(syncs >= 1 && syncs < 200, `${syncs} syncs for 200 concurrent records (group commit)`);
  await log.close();
});

t.test('the ship sink gets every durable batch in chain order; its failure never fails a write', async (t) => {
  const dir = await tempDir(t);
  const got: string[] = [];
  let throwing = true;
  const sink = {
    enqueue(lines: readonly string[]) {
      if (throwing) {
        throwing = false;
        throw new Error('sink bug');
      }
      got.push(...lines);
    },
    status: () => ({ url: 'x', buffered: 0, shipped: got.length, failedAttempts: 0, dropped: { buffer_full: 0, shutdown: 0 } }),
    close: async () => undefined,
  };
  const log = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'gw', ship: sink });
  await log.append(decision(0));
  await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(decision(i + 1))));
  t.equal(got.length, 30, 'the batch whose enqueue threw is lost to shipping only');
  t.strictSame(got.map((l) => (JSON.parse(l) as { seq: number }).seq), Array.from({ length: 30 }, (_, i) => i + 2));
  t.match(log.status(), { written: 31, ship: { shipped: 30 } });
  await log.close();
});
