import t from 'tap';
import { createPublicKey, generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import { appendFile, copyFile, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { openDecisionLog } from '../../../audit/decision-log.ts';
import { GENESIS, chainedLine, hashLine, instanceFolder } from '../../../audit/chain.ts';
import { keyIdOf, type Checkpoint } from '../../../audit/checkpoint.ts';
import { archiveBundle } from '../../../audit/bundle-archive.ts';
import { verifyLog } from '../../../audit/verify.ts';
import { labels, linesOf, outcome, segmentsOf, tempDir, writeTrail } from '../../fixtures/audit-trail.ts';

type Line = { seq: number; prev: string; kind: string; [k: string]: unknown };
const parse = (l: string) => JSON.parse(l) as Line;

t.test('the chain runs on across size rotation; each closed segment is named by its first seq and checkpointed', async (t) => {
  const dir = await tempDir(t);
  const { instanceDir, segments } = await writeTrail(dir, 20);
  t.equal(instanceDir, join(dir, 'gw-1'));
  t.ok(segments.length >= 4, `${segments.length} segments`);
  let seq = 0;
  let prev = GENESIS;
  for (const name of segments) {
    const lines = await linesOf(join(instanceDir, name));
    t.equal(name, `segment-${String(seq + 1).padStart(12, '0')}.jsonl`, `${name} is named by its first seq`);
    t.ok((await stat(join(instanceDir, name))).size <= 1200, `${name} stays within segmentBytes`);
    for (const l of lines) {
      const r = parse(l);
      t.equal(r.seq, ++seq);
      t.equal(r.prev, prev);
      prev = hashLine(l);
    }
    const cp = JSON.parse(await readFile(join(instanceDir, `${name}.checkpoint.json`), 'utf8')) as Checkpoint;
    t.match(cp, { v: 1, instance_id: 'gw-1', segment: name, last_seq: seq, head: prev, lines: lines.length });
    t.equal(cp.first_seq, seq - lines.length + 1);
  }
  t.equal(seq, 20, 'every record once');
  t.strictSame((await verifyLog(dir)).problems, []);
});

t.test('checkpoints: Ed25519 over the canonical body, by the published key; a generated key is 0600 and announced', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'gw-1' });
  t.equal(log.warnings.length, 1);
  t.match(log.warnings[0], /^decisionLog\.checkpointKey is not set: generated an Ed25519 checkpoint key at .*checkpoint-key\.pem; production should supply one/);
  await log.append(outcome(1));
  await log.append(outcome(2));
  await log.close();
  const inst = join(dir, 'gw-1');
  t.equal((await stat(join(inst, 'checkpoint-key.pem'))).mode & 0o777, 0o600);
  const pub = createPublicKey(await readFile(join(inst, 'checkpoint-key.pub.pem'), 'utf8'));
  const cp = JSON.parse(await readFile(join(inst, 'segment-000000000001.jsonl.checkpoint.json'), 'utf8')) as Checkpoint;
  const { signature, ...body } = cp;
  t.strictSame(Object.keys(body).sort(), ['first_seq', 'head', 'instance_id', 'key_id', 'last_seq', 'lines', 'segment', 'signed_at', 'v']);
  t.equal(cp.key_id, keyIdOf(pub), 'key_id is the RFC 7638 thumbprint of the published key');
  t.ok(verifySignature(null, Buffer.from(canonicalize(body)!), pub, Buffer.from(signature, 'base64')), 'signature verifies');
  const lines = await linesOf(join(inst, 'segment-000000000001.jsonl'));
  t.match(cp, { first_seq: 1, last_seq: 2, lines: 2, head: hashLine(lines[1]!) });

  const again = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'gw-1' });
  t.match(again.warnings[0], /signing checkpoints with the generated key/, 'the generated key is reused, and still announced');
  await again.close();
  t.strictSame(await segmentsOf(inst), ['segment-000000000001.jsonl'], 'a segment without records is removed at close, not sealed');
});

t.test('a configured checkpoint key is used and published; a key that is not Ed25519 is refused', async (t) => {
  const dir = await tempDir(t);
  const keyFile = join(dir, 'cp.pem');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeFile(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const log = await openDecisionLog({ dir: join(dir, 'log'), durability: 'batch', instanceId: 'gw-1', checkpointKey: keyFile });
  t.strictSame(log.warnings, []);
  await log.append(outcome(1));
  await log.close();
  t.equal(await readFile(join(log.instanceDir, 'checkpoint-key.pub.pem'), 'utf8'), publicKey.export({ format: 'pem', type: 'spki' }));
  await t.rejects(stat(join(log.instanceDir, 'checkpoint-key.pem')), { code: 'ENOENT' }, 'no key generated');
  const cp = JSON.parse(await readFile(`${log.file}.checkpoint.json`, 'utf8')) as Checkpoint;
  t.equal(cp.key_id, keyIdOf(publicKey));

  // Rotating the key keeps the old public key published under its id, so old checkpoints verify.
  const next = generateKeyPairSync('ed25519');
  await writeFile(keyFile, next.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const log2 = await openDecisionLog({ dir: join(dir, 'log'), durability: 'batch', instanceId: 'gw-1', checkpointKey: keyFile });
  await log2.append(outcome(2));
  await log2.close();
  await stat(join(log.instanceDir, `checkpoint-key-${keyIdOf(publicKey)}.pub.pem`));
  t.strictSame((await verifyLog(join(dir, 'log'))).problems, [], 'both segments verify, each with its key');

  const rsa = join(dir, 'rsa.pem');
  await writeFile(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await t.rejects(openDecisionLog({ dir: join(dir, 'log'), durability: 'none', instanceId: 'gw-1', checkpointKey: rsa }), { message: /^decisionLog\.checkpointKey: .*rsa\.pem is a rsa key, expected Ed25519$/ });
  await t.rejects(openDecisionLog({ dir: join(dir, 'log'), durability: 'none', instanceId: 'gw-1', checkpointKey: join(dir, 'nope.pem') }), { message: /^decisionLog\.checkpointKey: cannot read .*nope\.pem \(ENOENT\)$/ });
});

t.test('age rotation: a segment whose first record is older than segmentMaxAgeMs closes before the next write', async (t) => {
  const dir = await tempDir(t);
  let clock = Date.parse('2026-11-25T15:00:00.000Z');
  const log = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw-1', segmentMaxAgeMs: 60_000, now: () => clock });
  await log.append(outcome(1));
  clock += 59_999;
  await log.append(outcome(2));
  t.equal(log.file, join(dir, 'gw-1', 'segment-000000000001.jsonl'), 'not yet');
  clock += 1;
  await log.append(outcome(3));
  t.equal(log.file, join(dir, 'gw-1', 'segment-000000000003.jsonl'), 'rotated at 60 s');
  const cp = JSON.parse(await readFile(join(dir, 'gw-1', 'segment-000000000001.jsonl.checkpoint.json'), 'utf8')) as Checkpoint;
  t.match(cp, { last_seq: 2, lines: 2, signed_at: '2026-11-25T15:01:00.000Z' });
  await log.close();
  t.strictSame((await verifyLog(dir)).problems, []);
});

t.test('an idle segment is closed by the age timer', async (t) => {
  const dir = await tempDir(t);
  const log = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw-1', segmentMaxAgeMs: 100 });
  await log.append(outcome(1));
  const deadline = Date.now() + 5000;
  while (log.file.endsWith('000000000001.jsonl') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(log.file, join(dir, 'gw-1', 'segment-000000000002.jsonl'));
  await stat(join(dir, 'gw-1', 'segment-000000000001.jsonl.checkpoint.json'));
  await log.append(outcome(2));
  await log.close();
  t.strictSame((await verifyLog(dir)).problems, []);
});

/** A trail whose last segment was left unsealed, as after kill -9 (its checkpoint removed). */
async function crashedTrail(dir: string, records: number): Promise<{ inst: string; last: string }> {
  const { instanceDir, segments } = await writeTrail(dir, records);
  const last = segments[segments.length - 1]!;
  await unlink(join(instanceDir, `${last}.checkpoint.json`));
  return { inst: instanceDir, last };
}

t.test('recovery: a torn last line is cut, the segment sealed, and a recovery record continues the chain', async (t) => {
  const dir = await tempDir(t);
  const { inst, last } = await crashedTrail(dir, 10);
  const good = await linesOf(join(inst, last));
  const torn = '{"decision_id":"d-0011","kind":"outc';
  await appendFile(join(inst, last), torn);
  t.match((await verifyLog(dir)).problems, [{ code: 'line.torn', segment: last }], 'verify names the torn line before recovery');

  const log = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'gw-1', labels, now: () => Date.parse('2026-11-25T16:00:00.000Z') });
  t.equal(await readFile(join(inst, last), 'utf8'), good.join(''), 'the torn bytes are cut, the intact lines kept');
  const cp = JSON.parse(await readFile(join(inst, `${last}.checkpoint.json`), 'utf8')) as Checkpoint;
  t.match(cp, { last_seq: 10, head: hashLine(good[good.length - 1]!) }, 'the recovered segment is sealed');
  t.equal(log.file, join(inst, 'segment-000000000011.jsonl'));
  const [rec] = (await linesOf(log.file)).map(parse);
  t.strictSame(rec, {
    kind: 'recovery',
    v: 1,
    timestamp: '2026-11-25T16:00:00.000Z',
    labels,
    segment: last,
    truncated_bytes: torn.length,
    truncated_sha256: hashLine(torn),
    last_seq: 10,
    seq: 11,
    prev: hashLine(good[good.length - 1]!),
  });
  await log.append(outcome(12));
  t.equal(log.status().seq, 12);
  await log.close();
  t.strictSame((await verifyLog(dir)).problems, [], 'verify passes after recovery');
});

t.test('recovery: an unsealed segment without a torn line gets a recovery record with 0 bytes cut', async (t) => {
  const dir = await tempDir(t);
  const { inst, last } = await crashedTrail(dir, 6);
  const log = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw-1' });
  const [rec] = (await linesOf(log.file)).map(parse);
  t.match(rec, { kind: 'recovery', segment: last, truncated_bytes: 0, last_seq: 6, seq: 7 });
  t.notOk('truncated_sha256' in rec!);
  await stat(join(inst, `${last}.checkpoint.json`));
  await log.close();
  t.strictSame((await verifyLog(dir)).problems, []);
});

t.test('recovery: a last line of garbage (zero-filled after a power loss) is cut too; a segment left empty is removed', async (t) => {
  const dir = await tempDir(t);
  const { inst, last } = await crashedTrail(dir, 5);
  await appendFile(join(inst, last), Buffer.concat([Buffer.from('{"seq":6,"prev":"'), Buffer.alloc(20), Buffer.from('\n'), Buffer.alloc(10)]));
  const log = await openDecisionLog({ dir, durability: 'none', instanceId: 'gw-1' });
  const [rec] = (await linesOf(log.file)).map(parse);
  t.match(rec, { kind: 'recovery', truncated_bytes: 17 + 20 + 1 + 10, last_seq: 5, seq: 6 });
  await log.close();
  t.strictSame((await verifyLog(dir)).problems, []);

  // A crash right after a segment was created: the empty file goes, the chain continues.
  const dir2 = await tempDir(t);
  const a = await writeTrail(dir2, 3);
  const empty = join(a.instanceDir, 'segment-000000000004.jsonl');
  await writeFile(empty, '{"decision_id":');
  const b = await openDecisionLog({ dir: dir2, durability: 'none', instanceId: 'gw-1' });
  t.equal(b.file, empty, 'the new segment takes the name of the removed one');
  t.match((await linesOf(b.file)).map(parse), [{ kind: 'recovery', segment: 'segment-000000000004.jsonl', truncated_bytes: 15, last_seq: 3, seq: 4 }]);
  await b.close();
  t.strictSame((await verifyLog(dir2)).problems, []);
});

t.test('a failed batch is refused, its bytes cut, and the records queued behind it re-chained', async (t) => {
  const dir = await tempDir(t);
  let fail = false;
  const log = await openDecisionLog({
    dir,
    durability: 'fsync',
    instanceId: 'gw-1',
    write: async (fh, data) => {
      if (fail) {
        fail = false;
        await fh.write(data, 0, Math.floor(data.length / 2)); // a partial write, then the error
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      }
      await fh.write(data);
    },
  });
  await log.append(outcome(1));
  fail = true;
  const failing = log.append(outcome(2)); // goes out alone: nothing else is queued yet
  const behind = [3, 4, 5].map((i) => log.append(outcome(i))); // chained onto record 2 while its write is in flight
  const results = await Promise.allSettled([failing, ...behind]);
  t.match(
    results.map((r) => r.status),
    ['rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
  );
  t.match(results[0], { reason: { code: 'ENOSPC' } });
  t.match(log.status(), { written: 4, failed: 1, healthy: true, seq: 4 });
  const lines = (await linesOf(log.file)).map(parse);
  t.strictSame(
    lines.map((l) => [l.seq, l.decision_id]),
    [
      [1, 'd-0001'],
      [2, 'd-0003'],
      [3, 'd-0004'],
      [4, 'd-0005'],
    ],
    'no trace of the failed record; the chain has no gap',
  );
  await log.close();
  t.strictSame((await verifyLog(dir)).problems, []);
});

t.test('instance folder names', async (t) => {
  t.equal(instanceFolder('gw/eu 1'), 'gw_eu_1');
  t.equal(instanceFolder('..'), '_..');
  t.equal(instanceFolder('bundles'), '_bundles');
  t.equal(chainedLine({ seq: 'x', a: 1 }, 3, GENESIS), `{"a":1,"prev":"${GENESIS}","seq":3}\n`, 'the chain fields win');
});

t.test('bundle archive: content-addressed copy, written once; a bundle that changed is refused', async (t) => {
  const dir = await tempDir(t);
  const bundle = join(dir, 'bundle.tar.gz');
  await writeFile(bundle, 'bundle bytes');
  const sha = hashLine('bundle bytes');
  const path = await archiveBundle(join(dir, 'log'), bundle, sha);
  t.equal(path, join(dir, 'log', 'bundles', `${sha}.tar.gz`));
  t.equal(await readFile(path, 'utf8'), 'bundle bytes');
  t.equal((await stat(path)).mode & 0o777, 0o440);
  const mtime = (await stat(path)).mtimeMs;
  await archiveBundle(join(dir, 'log'), bundle, sha);
  t.equal((await stat(path)).mtimeMs, mtime, 'present: not written again');
  await t.rejects(archiveBundle(join(dir, 'log'), bundle, 'ab'.repeat(32)), { message: /^policy\.bundle: .* changed while the gateway started/ });
  await copyFile(bundle, join(dir, 'other'));
  await truncate(join(dir, 'other'), 3);
  t.equal(await archiveBundle(join(dir, 'log'), join(dir, 'other'), hashLine('bun')), join(dir, 'log', 'bundles', `${hashLine('bun')}.tar.gz`));
});
