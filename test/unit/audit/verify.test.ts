import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { main } from '../../../audit/cli.ts';
import { canonicalLine, hashLine } from '../../../audit/chain.ts';
import { keyIdOf, signCheckpoint, type Checkpoint } from '../../../audit/checkpoint.ts';
import { verifyLog, type VerifyProblem } from '../../../audit/verify.ts';
import { linesOf, tempDir, writeTrail } from '../../fixtures/audit-trail.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** A sealed trail of 20 records in ≥ 4 segments, and a helper to rewrite one segment's lines. */
async function trail(t: { teardown(fn: () => unknown): void }) {
  const dir = await tempDir(t);
  const { instanceDir, segments } = await writeTrail(dir, 20);
  const seg = (i: number) => join(instanceDir, segments[i]!);
  const edit = async (i: number, f: (lines: string[]) => string[]) => writeFile(seg(i), f(await linesOf(seg(i))).join(''));
  return { dir, inst: instanceDir, segments, seg, edit };
}

/** The first problem of the only instance. */
async function firstProblem(dir: string): Promise<VerifyProblem | undefined> {
  return (await verifyLog(dir)).problems[0];
}

/** What the CLI prints and returns. */
async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out, err };
}

t.test('an untouched trail verifies: exit 0 and one summary line', async (t) => {
  const { dir, inst, segments } = await trail(t);
  const r = await cli('verify', dir);
  t.equal(r.code, 0);
  t.strictSame(r.out, [`ok: 1 instance, ${segments.length} segments, 20 records, ${segments.length} checkpoints verified (gw-1 seq 1–20)`]);
  t.equal((await cli('verify', inst)).code, 0, 'an instance folder works too');
});

t.test('the CLI runs as a process: npm run audit -- verify <dir>', async (t) => {
  const { dir, edit } = await trail(t);
  const ok = spawnSync(process.execPath, [join(ROOT, 'audit', 'cli.ts'), 'verify', dir], { encoding: 'utf8' });
  t.equal(ok.status, 0);
  t.match(ok.stdout, /^ok: 1 instance, \d+ segments, 20 records/);
  await edit(1, (l) => [l[0]!, l[2]!, l[1]!, ...l.slice(3)]);
  const bad = spawnSync(process.execPath, [join(ROOT, 'audit', 'cli.ts'), 'verify', dir], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stdout, /^FAIL line\.seq .*segment-\d{12}\.jsonl line 2 \(seq \d+\): seq \d+, expected \d+/);
  const usage = spawnSync(process.execPath, [join(ROOT, 'audit', 'cli.ts')], { encoding: 'utf8' });
  t.equal(usage.status, 2);
  t.match(usage.stderr, /^usage: npm run audit -- verify/);
});

t.test('an edited byte: the next line\'s prev hash no longer matches', async (t) => {
  const { dir, segments, edit } = await trail(t);
  await edit(1, (l) => [l[0]!.replace('"d-0', '"e-0'), ...l.slice(1)]);
  const first = JSON.parse((await linesOf(join(dir, 'gw-1', segments[1]!)))[1]!) as { seq: number };
  const p = await firstProblem(dir);
  t.match(p, { code: 'line.prev', segment: segments[1], line: 2, seq: first.seq });
  const r = await cli('verify', dir);
  t.equal(r.code, 1);
  t.strictSame(r.out, [`FAIL line.prev ${join(dir, 'gw-1', segments[1]!)} line 2 (seq ${first.seq}): prev hash mismatch: the line before was changed, or a line was deleted, inserted or reordered`]);
});

t.test('an edited byte that breaks the JSON, or its canonical form', async (t) => {
  const a = await trail(t);
  await a.edit(0, (l) => [l[0]!, l[1]!.replace('{', '['), ...l.slice(2)]);
  t.match(await firstProblem(a.dir), { code: 'line.not_json', segment: a.segments[0], line: 2 });
  const b = await trail(t);
  await b.edit(0, (l) => [l[0]!, l[1]!.replace('"status":200', '"status": 200'), ...l.slice(2)]);
  t.match(await firstProblem(b.dir), { code: 'line.not_canonical', segment: b.segments[0], line: 2, seq: 2 });
});

t.test('a deleted line', async (t) => {
  const { dir, segments, edit } = await trail(t);
  await edit(2, (l) => [l[0]!, ...l.slice(2)]);
  const p = await firstProblem(dir);
  t.match(p, { code: 'line.seq', segment: segments[2], line: 2 });
  t.match(p!.message, /^seq (\d+), expected \d+: a line was deleted, inserted or reordered$/);
});

t.test('an inserted line (a copy of another, or a forged one with the right seq)', async (t) => {
  const a = await trail(t);
  await a.edit(1, (l) => [l[0]!, l[0]!, ...l.slice(1)]);
  t.match(await firstProblem(a.dir), { code: 'line.seq', segment: a.segments[1], line: 2 });

  const b = await trail(t);
  const lines = await linesOf(b.seg(0));
  const last = JSON.parse(lines[1]!) as Record<string, unknown>;
  const forged = canonicalLine({ ...last, decision_id: 'forged', seq: 3, prev: hashLine(lines[1]!) });
  await b.edit(0, (l) => [l[0]!, l[1]!, forged, ...l.slice(2)]);
  t.match(await firstProblem(b.dir), { code: 'line.seq', segment: b.segments[0], line: 4, seq: 3 }, 'the line after the forged one repeats its seq');
});

t.test('reordered lines', async (t) => {
  const { dir, segments, edit } = await trail(t);
  await edit(0, (l) => [l[1]!, l[0]!, ...l.slice(2)]);
  t.match(await firstProblem(dir), { code: 'line.seq', segment: segments[0], line: 1, seq: 2 });
});

t.test('a truncated segment: cut at a line end (the checkpoint says more), or mid-line (torn)', async (t) => {
  const a = await trail(t);
  await a.edit(1, (l) => l.slice(0, -1));
  const p = await firstProblem(a.dir);
  t.match(p, { code: 'checkpoint.mismatch', segment: `${a.segments[1]}.checkpoint.json` });
  t.match(p!.message, /^last_seq \d+, but the segment ends at seq \d+: the segment was truncated$/);

  const b = await trail(t);
  const size = (await readFile(b.seg(1))).length;
  await truncate(b.seg(1), size - 10);
  t.match(await firstProblem(b.dir), { code: 'line.torn', segment: b.segments[1] });

  const c = await trail(t);
  await writeFile(c.seg(2), '');
  t.match(await firstProblem(c.dir), { code: 'segment.empty', segment: c.segments[2] });
});

t.test('lines appended to a sealed segment', async (t) => {
  const { dir, seg, segments } = await trail(t);
  const lines = await linesOf(seg(0));
  const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  const next = canonicalLine({ ...last, decision_id: 'late', seq: (last.seq as number) + 1, prev: hashLine(lines[lines.length - 1]!) });
  await writeFile(seg(0), lines.join('') + next);
  const p = await firstProblem(dir);
  t.match(p, { code: 'checkpoint.mismatch', segment: `${segments[0]}.checkpoint.json` });
  t.match(p!.message, /lines were appended after it was sealed$/);
});

t.test('the last line of a sealed segment changed: the checkpoint head differs', async (t) => {
  const { dir, segments, edit } = await trail(t);
  await edit(3, (l) => [...l.slice(0, -1), l[l.length - 1]!.replace('"d-0', '"e-0')]);
  const p = await firstProblem(dir);
  t.match(p, { code: 'checkpoint.mismatch', segment: `${segments[3]}.checkpoint.json`, message: 'head hash differs from the last line: the last line was changed' });
});

t.test('a deleted whole segment: with its checkpoint left, or both gone', async (t) => {
  const a = await trail(t);
  await unlink(a.seg(1));
  t.match(await firstProblem(a.dir), { code: 'segment.missing', segment: a.segments[1] });

  const b = await trail(t);
  await unlink(b.seg(1));
  await unlink(`${b.seg(1)}.checkpoint.json`);
  const p = await firstProblem(b.dir);
  t.match(p, { code: 'segment.boundary', segment: b.segments[2] });
  t.match(p!.message, /^starts at seq \d+, expected \d+: seq \d+–\d+ are missing/);

  const c = await trail(t);
  await unlink(c.seg(0));
  await unlink(`${c.seg(0)}.checkpoint.json`);
  t.match(await firstProblem(c.dir), { code: 'segment.boundary', segment: c.segments[1], message: /expected 1/ }, 'the chain starts at seq 1');
});

t.test('a sealed segment whose checkpoint was deleted', async (t) => {
  const { dir, seg, segments } = await trail(t);
  await unlink(`${seg(1)}.checkpoint.json`);
  t.match(await firstProblem(dir), { code: 'segment.unsealed', segment: segments[1] });
});

t.test('an altered or forged checkpoint', async (t) => {
  const a = await trail(t);
  const cpPath = `${a.seg(1)}.checkpoint.json`;
  const cp = JSON.parse(await readFile(cpPath, 'utf8')) as Checkpoint;
  await writeFile(cpPath, JSON.stringify({ ...cp, last_seq: cp.last_seq - 1, lines: cp.lines - 1 }));
  t.match(await firstProblem(a.dir), { code: 'checkpoint.signature', segment: `${a.segments[1]}.checkpoint.json` }, 'altered');

  // Forged by another key that claims the published key's id.
  const mallory = generateKeyPairSync('ed25519');
  const forged = signCheckpoint({ ...cp, key_id: cp.key_id }, { ...mallory, keyId: cp.key_id });
  await writeFile(cpPath, JSON.stringify(forged));
  t.match(await firstProblem(a.dir), { code: 'checkpoint.signature' }, 'forged under the real key id');

  // Forged under its own key id, which is not published.
  await writeFile(cpPath, JSON.stringify(signCheckpoint({ ...cp, key_id: keyIdOf(mallory.publicKey) }, { ...mallory, keyId: keyIdOf(mallory.publicKey) })));
  t.match(await firstProblem(a.dir), { code: 'checkpoint.unknown_key' });

  await writeFile(cpPath, '{"v":1}');
  t.match(await firstProblem(a.dir), { code: 'checkpoint.invalid' });
});

t.test('a pinned public key catches checkpoints re-signed with a replaced published key', async (t) => {
  const { dir, inst, segments } = await trail(t);
  const realPub = join(inst, 'checkpoint-key.pub.pem');
  await rename(realPub, join(dir, 'trusted.pub.pem'));
  const mallory = generateKeyPairSync('ed25519');
  await writeFile(realPub, mallory.publicKey.export({ format: 'pem', type: 'spki' }));
  for (const s of segments) {
    const p = join(inst, `${s}.checkpoint.json`);
    const cp = JSON.parse(await readFile(p, 'utf8')) as Checkpoint;
    const keyId = keyIdOf(mallory.publicKey);
    await writeFile(p, JSON.stringify(signCheckpoint({ ...cp, key_id: keyId }, { ...mallory, keyId })));
  }
  t.equal((await cli('verify', dir)).code, 0, 'the published key alone cannot tell');
  const r = await cli('verify', dir, '--public-key', join(dir, 'trusted.pub.pem'));
  t.equal(r.code, 1);
  t.match(r.out[0], /^FAIL checkpoint\.unknown_key .*segment-000000000001\.jsonl\.checkpoint\.json: signed by key \S+, which is not the pinned key$/);
});

t.test('a folder of instances; usage errors exit 2', async (t) => {
  const dir = await tempDir(t);
  await writeTrail(dir, 5, { instanceId: 'gw-a' });
  await writeTrail(dir, 3, { instanceId: 'gw-b' });
  const r = await cli('verify', dir);
  t.equal(r.code, 0);
  t.match(r.out[0], /^ok: 2 instances, \d+ segments, 8 records, \d+ checkpoints verified \(gw-a seq 1–5, gw-b seq 1–3\)$/);
  t.equal((await cli('verify', join(dir, 'nope'))).code, 2);
  t.equal((await cli('verify')).code, 2);
  t.equal((await cli('frobnicate', dir)).code, 2, 'an unknown verb');
  t.equal((await cli('verify', dir, '--public-key')).code, 2);
  const empty = await tempDir(t);
  const e = await cli('verify', empty);
  t.equal(e.code, 1);
  t.match(e.out[0], /^FAIL log\.empty .*: no segment files found$/);
});
