/**
 * `replay` on trails written by the real gateway: every decision matches; a tampered `result`
 * or `reasons` is a mismatch naming its decision id; a missing bundle fails the run; erased
 * input is skipped, not a mismatch; --from/--to select decisions.
 */
import t from 'tap';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonDiff, parseBound, replayLog, SKIP_ERASED } from '../../../audit/replay.ts';
import { readTrail } from '../../../audit/trail.ts';
import { auditCli as cli, copyTrail, editRecord, runMixedTraffic, type Sent } from '../../fixtures/gateway-trail.ts';
import { soql, startHarness } from '../../integration/helpers/harness.ts';


// One real trail for the whole file; each test works on its own copy.
const h = await startHarness();
let sent: Sent[] = [];
let source = '';
t.before(async () => {
  sent = await runMixedTraffic(h);
  source = join(h.logDir, 'decisions');
});
t.teardown(() => h.close());
const idOf = (label: string): string => sent.find((s) => s.label.startsWith(label))!.decisionId;

t.test('every policy decision of a real trail replays byte for byte', async (t) => {
  const dir = await copyTrail(t, source);
  const decisions: Record<string, unknown>[] = [];
  for await (const l of readTrail(dir)) if (l.record?.kind === 'decision') decisions.push(l.record);
  const withResult = decisions.filter((d) => d.result !== null);
  const r = await replayLog(dir);
  t.equal(r.replayed, withResult.length, 'every decision with a result is replayed');
  t.equal(r.matched, r.replayed);
  t.strictSame(r.mismatches, []);
  t.equal(r.notApplicable, decisions.length - withResult.length, 'the refusals before the policy are not applicable');
  t.strictSame(r.skipped, {});
  const { code, out } = await cli('replay', dir);
  t.equal(code, 0);
  t.match(out, `replayed:        ${r.replayed}`);
  t.match(out, 'mismatched:      0');
  t.match(out, `ok: ${r.matched} of ${r.replayed} replayed decisions match byte for byte`);
  t.match(out, '`npm run audit -- verify` is the integrity check');
});

t.test('a tampered result is a mismatch naming the decision', async (t) => {
  const dir = await copyTrail(t, source);
  const id = idOf('globex-user: list Contacts');
  await editRecord(dir, id, 'decision', (r) => {
    const result = r.result as { obligations: { rows: { value: { value: unknown }[] } } };
    result.obligations.rows.value[1]!.value = ['US', 'EU'];
    return r;
  });
  const r = await replayLog(dir);
  t.equal(r.mismatches.length, 1);
  t.match(r.mismatches[0], { decision_id: id, instance: 'it', segment: 'segment-000000000001.jsonl' });
  t.match(r.mismatches[0]!.diff, [/^result\.obligations\.rows\.value\[1\]\.value: expected \["US","EU"\], got \["US"\]$/]);
  const { code, out } = await cli('replay', dir);
  t.equal(code, 1);
  t.match(out, new RegExp(`MISMATCH decision ${id} seq \\d+ it/segment-000000000001\\.jsonl line \\d+`));
  t.match(out, 'FAIL: 1 mismatch, 0 missing bundles');
});

t.test('a flipped allow and edited reasons are mismatches too', async (t) => {
  const dir = await copyTrail(t, source);
  const denied = idOf('eu-rep-unmanaged: list Contacts');
  await editRecord(dir, denied, 'decision', (r) => ({ ...r, allow: true, result: { ...(r.result as object), allow: true } }));
  const allowed = idOf('eu-rep: list Contacts');
  await editRecord(dir, allowed, 'decision', (r) => ({ ...r, reasons: [{ code: 'allow.role', message: 'role admin may list Contact' }] }));
  const r = await replayLog(dir);
  t.strictSame(r.mismatches.map((m) => m.decision_id).sort(), [denied, allowed].sort());
  t.match(r.mismatches.find((m) => m.decision_id === denied)!.diff, ['result.allow: expected true, got false']);
  t.match(r.mismatches.find((m) => m.decision_id === allowed)!.diff, [/^reasons\[0\]\.message: expected "role admin may list Contact", got "role sales may list Contact"$/]);
});

t.test('a missing bundle fails the run (exit 1) and says which', async (t) => {
  const dir = await copyTrail(t, source);
  const [bundle] = await readdir(join(dir, 'bundles'));
  await unlink(join(dir, 'bundles', bundle!));
  const r = await replayLog(dir);
  t.equal(r.replayed, 0);
  t.ok(r.skipped['bundle missing or unusable']! > 0);
  const { code, out } = await cli('replay', dir);
  t.equal(code, 1);
  t.match(out, `MISSING bundle ${bundle!.replace('.tar.gz', '')}`);
  t.match(out, 'missing bundles: 1');
});

t.test('--from / --to select decisions by seq or time', async (t) => {
  const dir = await copyTrail(t, source);
  const all = await replayLog(dir);
  const some = await replayLog(dir, { from: parseBound('1')!, to: parseBound('10')! });
  t.ok(some.replayed > 0 && some.replayed < all.replayed, 'seq range');
  t.ok(some.outOfRange > 0);
  const none = await replayLog(dir, { from: parseBound('2999-01-01T00:00:00Z')! });
  t.equal(none.replayed, 0, 'time range');
  t.equal((await cli('replay', dir, '--from', 'yesterday')).code, 2, 'a bad bound is a usage error');
  t.equal((await cli('replay')).code, 2);
  t.strictSame(parseBound('42'), { seq: 42 });
  t.equal(parseBound('2026-11-25T15:00:00Z') && 'time' in parseBound('2026-11-25T15:00:00Z')!, true);
});

t.test('input with erased paths is skipped, not a mismatch', async (t) => {
  const e = await startHarness({ config: (raw) => ((raw.decisionLog as Record<string, unknown>).erase = ['/request/query/q']) });
  t.teardown(() => e.close());
  const { accessToken, posture } = await e.tokens('eu-rep');
  t.equal((await e.call(soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5'), { token: accessToken, ...(posture ? { posture } : {}) })).status, 200);
  t.equal((await e.call('/sf/services/data/v60.0/sobjects/Account/001000000000001AAA', { token: accessToken, ...(posture ? { posture } : {}) })).status < 500, true);
  const dir = join(e.logDir, 'decisions');
  const r = await replayLog(dir);
  t.equal(r.skipped[SKIP_ERASED], 1, 'the list, whose query was erased');
  t.equal(r.replayed, 1, 'the read, whose input is whole');
  t.strictSame(r.mismatches, []);
  const { code, out } = await cli('replay', dir);
  t.equal(code, 0);
  t.match(out, 'skipped:         1 (erased: 1)');
});

t.test('jsonDiff names the differing paths', async (t) => {
  t.strictSame(jsonDiff({ a: 1, b: [1, 2] }, { a: 1, b: [1, 3] }, 'x'), ['x.b[1]: expected 2, got 3']);
  t.strictSame(jsonDiff({ a: 1 }, { b: 1 }, 'x'), ['x.a: expected 1, got nothing', 'x.b: expected nothing, got 1']);
  t.strictSame(jsonDiff([1], [1, 2], 'x'), ['x: expected [1], got [1,2]']);
});
