/**
 * Issue 4 §7: replay of every decision the real gateway wrote gives 100% match. A realistic mix
 * (every demo persona's requests, each denial kind the demo shows, an IdP automation, writes, a
 * hidden record, a policy allow the gateway refuses afterwards, refusals before the policy) goes
 * through the gateway; then `replay` re-evaluates every decision against the archived bundle.
 * (Every other integration suite gets the same check when its harness closes: see harness.ts.)
 */
import t from 'tap';
import { join } from 'node:path';
import { main } from '../../audit/cli.ts';
import { replayLog } from '../../audit/replay.ts';
import { readTrail } from '../../audit/trail.ts';
import { PERSONAS } from '../../gateway/demo/personas.ts';
import { runMixedTraffic } from '../fixtures/gateway-trail.ts';
import { startHarness } from './helpers/harness.ts';

t.test('replay matches every decision of a realistic mix, 0 mismatches', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const sent = await runMixedTraffic(h);
  for (const s of sent) t.equal(s.status, s.expectStatus, `${s.label}: ${s.expectStatus}`);
  const dir = join(h.logDir, 'decisions');

  const byId = new Map<string, Record<string, unknown>>();
  for await (const l of readTrail(dir)) if (l.record?.kind === 'decision') byId.set(String(l.record.decision_id), l.record);
  t.equal(byId.size, sent.length, 'one decision record per request');
  for (const s of sent) t.ok(byId.has(s.decisionId), `${s.label} has its decision record`);

  const r = await replayLog(dir);
  const policyRan = [...byId.values()].filter((d) => d.result !== null);
  t.equal(r.replayed, policyRan.length, 'every decision the policy made is replayed');
  t.equal(r.matched, r.replayed, '100% match');
  t.strictSame(r.mismatches, [], 'no mismatch');
  t.strictSame(r.skipped, {}, 'nothing skipped');
  t.equal(r.notApplicable, byId.size - policyRan.length);
  t.ok(r.notApplicable >= 5, 'refusals before the policy are in the trail');
  t.equal(r.bundles.size, 1);

  // Coverage: every persona, every denial kind of the demo, allowed and denied.
  for (const p of PERSONAS) {
    const mine = sent.filter((s) => s.persona === p.name).map((s) => byId.get(s.decisionId)!);
    t.ok(mine.length > 0 && mine.every((d) => d.result !== null), `${p.name}: all its decisions were made by the policy and replayed`);
  }
  const demoDenials = PERSONAS.flatMap((p) => p.tryThis.map((x) => x.expect.reason)).filter((x): x is string => x !== undefined);
  t.ok(demoDenials.length >= 3);
  for (const reason of [...new Set([...demoDenials, 'tenant.mismatch', 'region.not_entitled'])]) {
    t.ok(
      policyRan.some((d) => d.allow === false && (d.reasons as { code: string }[]).some((x) => x.code === reason)),
      `denial ${reason} replayed`,
    );
  }
  t.ok(policyRan.some((d) => d.allow === true), 'allowed decisions replayed');
  t.ok(policyRan.some((d) => d.answered === 'resource.not_found'), 'a hidden-record answer replayed');
  t.ok(policyRan.some((d) => d.decided_by === 'gateway'), 'a policy allow refused by the gateway replayed');

  const out: string[] = [];
  t.equal(await main(['replay', dir], (s) => out.push(s), () => {}), 0, 'the CLI exits 0');
  t.match(out.join('\n'), `ok: ${r.matched} of ${r.replayed} replayed decisions match byte for byte`);
});
