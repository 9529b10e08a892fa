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
  const log = await openDecisionLog({ dir: join(dir, 'nested', 'logs'), fsync: true, instanceId: 'gw/eu 1' });
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
  t.strictSame(log.status(), { file: log.file, written: 2, failed: 0, healthy: true, seq: 2 });
  t.equal((await stat(log.file)).mode & 0o777, 0o640);
  await log.close();
});

t.test('500 concurrent appends: every record present once, every line valid JSON', async (t) => {
  const dir = await tempDir(t);
  for (const fsync of [false, true]) {
    const log = await openDecisionLog({ dir, fsync, instanceId: `c-${fsync}` });
    await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(decision(i))));
    const lines = (await readFile(log.file, 'utf8')).split('\n');
    t.equal(lines.pop(), '', 'ends with a newline');
    t.equal(lines.length, 500, `fsync ${fsync}: 500 lines`);
    const ids = lines.map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);
    t.strictSame(ids, Array.from({ length: 500 }, (_, i) => `d-${String(i).padStart(4, '0')}`), 'in append order');
    t.ok(lines.every((l) => l === canonicalLine(JSON.parse(l)).trimEnd()), 'every line is canonical');
    t.strictSame(log.status(), { file: log.file, written: 500, failed: 0, healthy: true, seq: 500 });
    await log.close();
  }
});

t.test('reopening continues the chain in a new segment', async (t) => {
  const dir = await tempDir(t);
  const a = await openDecisionLog({ dir, fsync: false, instanceId: 'gw' });
  await a.append(decision(1));
  await a.close();
  const b = await openDecisionLog({ dir, fsync: false, instanceId: 'gw' });
  t.equal(b.file, join(dir, 'gw', 'segment-000000000002.jsonl'));
  await b.append(decision(2));
  await b.close();
  const line1 = chainedLine(decision(1), 1, GENESIS);
  t.equal(await readFile(a.file, 'utf8'), line1);
  t.equal(await readFile(b.file, 'utf8'), chainedLine(decision(2), 2, hashLine(line1)));
});

t.test('close waits for queued records; append after close rejects', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir, fsync: true, instanceId: 'gw' });
  const pending = Array.from({ length: 50 }, (_, i) => log.append(decision(i)));
  await log.close();
  await Promise.all(pending);
  t.equal((await readFile(log.file, 'utf8')).split('\n').length - 1, 50, 'records appended before close are written');
  await t.rejects(log.append(decision(99)), { message: 'decision log is closed' });
  t.strictSame(log.status(), { file: log.file, written: 50, failed: 1, healthy: false, seq: 50 });
  t.equal((await readFile(log.file, 'utf8')).split('\n').length - 1, 50, 'nothing written after close');
});

t.test('a record that cannot be serialized rejects and counts as failed', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir, fsync: false, instanceId: 'gw' });
  await t.rejects(log.append({ ...decision(1), input: { n: 1n } } as unknown as LogRecord), TypeError);
  await log.append(decision(2));
  t.strictSame(log.status(), { file: log.file, written: 1, failed: 1, healthy: true, seq: 1 });
  t.equal(await readFile(log.file, 'utf8'), chainedLine(decision(2), 1, GENESIS), 'the refused record took no seq');
  await log.close();
});

t.test('a folder that cannot be created fails at open', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  await t.rejects(openDecisionLog({ dir: join(file, 'sub'), fsync: false, instanceId: 'gw' }), { code: 'ENOTDIR' });
});
