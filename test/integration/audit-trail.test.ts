/**
 * The audit trail written by the real gateway: chained lines, a sealed segment per run, the
 * chain continuing across a restart, the policy bundle archived, and `verify` passing.
 */
import t from 'tap';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS, hashLine } from '../../audit/chain.ts';
import { verifyLog } from '../../audit/verify.ts';
import { startHarness, soql, ROOT } from './helpers/harness.ts';

const logRoot = await mkdtemp(join(tmpdir(), 'gw-trail-'));
t.teardown(() => rm(logRoot, { recursive: true, force: true }));
const useLogRoot = (raw: Record<string, unknown>) => {
  (raw.decisionLog as Record<string, unknown>).dir = logRoot;
};
const query = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');

t.test('two runs of the gateway write one chain that verifies', async (t) => {
  const first = await startHarness({ config: useLogRoot });
  const { accessToken, posture } = await first.tokens('eu-rep');
  for (let i = 0; i < 3; i++) t.equal((await first.call(query, { token: accessToken, posture })).status, 200);
  t.equal((await first.call(query)).status, 401, 'a refusal is logged too');
  const records = await first.records();
  t.equal(records.length, 7, '3 × (decision + outcome) + 1 refusal');
  t.strictSame(records.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7]);
  t.equal(records[0]!.prev, GENESIS);
  const lines = (await readFile(first.gw.decisionLog.file, 'utf8')).split(/(?<=\n)/);
  t.equal(records[1]!.prev, hashLine(lines[0]!));
  const firstFile = first.gw.decisionLog.file;
  await first.close();

  const second = await startHarness({ config: useLogRoot });
  t.not(second.gw.decisionLog.file, firstFile, 'a restart opens a new segment');
  t.equal(second.gw.decisionLog.file, join(logRoot, 'it', 'segment-000000000008.jsonl'));
  const { accessToken: token2, posture: posture2 } = await second.tokens('eu-rep');
  t.equal((await second.call(query, { token: token2, posture: posture2 })).status, 200);
  const next = await second.records();
  t.match(next[0], { kind: 'decision', seq: 8, prev: hashLine(lines[6]!) }, 'no recovery record after a clean stop');
  t.match((await verifyLog(logRoot)).problems, [], 'verify passes while the segment is open');
  await second.close();

  const result = await verifyLog(logRoot);
  t.strictSame(result.problems, []);
  t.match(result.instances, [{ segments: 2, records: 9, checkpoints: 2, lastSeq: 9 }]);

  const bundleSha = createHash('sha256').update(await readFile(join(ROOT, 'dist', 'bundle.tar.gz'))).digest('hex');
  t.strictSame(await readdir(join(logRoot, 'bundles')), [`${bundleSha}.tar.gz`], 'the bundle is archived once, by content');
  t.equal(next[0]!.provenance && (next[0]!.provenance as { bundle_sha256: string }).bundle_sha256, bundleSha, 'records name the archived bundle');
});
