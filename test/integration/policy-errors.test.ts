/**
 * Fail-closed policy paths, with bundles compiled by the real build script and OPA CLI:
 * a policy that breaks the decision contract is a 500 policy.error denial (logged), and a policy
 * that reads the clock does not build at all.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, soql, ROOT } from './helpers/harness.ts';

const work = await mkdtemp(join(tmpdir(), 'gw-policy-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

async function build(name: string, rego: string): Promise<{ status: number; stderr: string; out: string }> {
  const src = join(work, name);
  await mkdir(join(src, 'crm', 'authz'), { recursive: true });
  await writeFile(join(src, 'crm', 'authz', 'decision.rego'), rego);
  const out = join(work, `${name.replace(/\//g, '-')}.tar.gz`);
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-policies.ts'), '--src', src, '--out', out], { encoding: 'utf8' });
  return { status: r.status ?? 1, stderr: r.stderr, out };
}

t.test('a policy that reads the clock fails to build (capabilities without time.now_ns)', async (t) => {
  const r = await build('clock', 'package crm.authz\n\ndecision := {"allow": time.now_ns() > 0, "reasons": [], "obligations": {}}\n');
  t.not(r.status, 0);
  t.match(r.stderr, /time\.now_ns/);
});

t.test('the same policy source builds to the same bundle bytes wherever it is checked out', async (t) => {
  const rego = 'package crm.authz\n\ndecision := {"allow": false, "reasons": [{"code": "policy.default_deny", "message": "no"}], "obligations": {}}\n';
  const a = await build('here', rego);
  const b = await build('there/deeper', rego);
  t.equal(a.status, 0, a.stderr);
  t.equal(b.status, 0, b.stderr);
  const digest = async (f: string) => createHash('sha256').update(await readFile(f)).digest('hex');
  t.equal(await digest(a.out), await digest(b.out), 'bundle SHA-256 (its archive name in the decision log) does not depend on the folder');
});

t.test('a result that breaks the decision contract → 500 policy.error, logged as a denial', async (t) => {
  const r = await build('broken', 'package crm.authz\n\ndecision := {"allow": "yes", "reasons": []}\n');
  t.equal(r.status, 0, r.stderr);
  const h = await startHarness({ config: (raw) => ((raw.policy as Record<string, unknown>).bundle = r.out) });
  t.teardown(() => h.close());
  const { accessToken, posture } = await h.tokens('eu-rep');
  const before = h.crm.requests.length;
  const res = await h.call(soql('SELECT Id FROM Contact LIMIT 1'), { token: accessToken, posture });
  t.equal(res.status, 500);
  const p = (await res.json()) as { reason: string; detail: string };
  t.equal(p.reason, 'policy.error');
  t.match(p.detail, /decision\.allow/);
  t.equal(h.crm.requests.length, before, 'nothing forwarded');
  const rec = (await h.records()).find((x) => x.decision_id === res.headers.get('x-decision-id'));
  t.equal(rec?.allow, false);
  t.same((rec?.reasons as { code: string }[]).map((x) => x.code), ['policy.error']);
});
