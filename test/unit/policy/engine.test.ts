import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create as tarCreate } from 'tar';
import { createPolicyEngine, type EngineOptions } from '../../../gateway/policy/engine.ts';
import { BundleError, readBundle } from '../../../gateway/policy/bundle.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import { canonicalJson } from '../../../audit/canonical-json.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BUNDLE = join(ROOT, 'dist', 'bundle.tar.gz');
if (!existsSync(BUNDLE)) throw new Error('dist/bundle.tar.gz is missing: run `npm run build` first');

const opts = (o: Partial<EngineOptions> = {}): EngineOptions => ({ bundlePath: BUNDLE, entrypoint: 'crm/authz/decision', memoryInitialPages: 64, memoryMaximumPages: 4096, ...o });

const euRep = { kind: 'user', id: 'u-eu-rep', tenant: 'acme', issuer: 'https://idp.example.test', roles: ['sales'], scopes: ['crm.read', 'crm.write'], regions: ['EU'], clearance: 'internal' };
const goodDevice = { managed: true, compliant: true, platform: 'macos' };
const env = { now: '2026-11-25T15:00:00.000Z', gateway_region: 'EU' };
const input = (resource: Record<string, unknown>, subject: Record<string, unknown> = euRep) => ({
  subject,
  device: goodDevice,
  request: { method: 'GET', path: '/services/data/v60.0/query', query: {} },
  resource: { adapter: 'salesforce', ...resource },
  env,
});

const mask = { replace: { value: '***' } };
const drop = { remove: {} };
// test/policies/classification_test.rego: internal clearance masks confidential, removes restricted
const EU_REP_CONTACT_LIST = {
  allow: true,
  reasons: [{ code: 'allow.role', message: 'role sales may list Contact' }],
  obligations: {
    rows: {
      type: 'compound',
      operator: 'and',
      value: [
        { type: 'field', field: 'Tenant__c', operator: 'eq', value: 'acme' },
        { type: 'field', field: 'Region__c', operator: 'in', value: ['EU'] },
      ],
    },
    fields: { Contact: { Email: mask, Phone: mask, SSN__c: drop, DateOfBirth__c: drop } },
  },
};

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-bundle-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A gzipped tar holding `files` (name → content), written with the real tar package. */
async function makeBundle(dir: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(src, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(src, name), content);
  const out = join(dir, 'bundle.tar.gz');
  await tarCreate({ gzip: true, file: out, cwd: src, portable: true }, Object.keys(files));
  return out;
}

/** What readBundle/createPolicyEngine rejects with: the error's class name and message. */
async function rejection(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  return { name: 'resolved', message: '' };
}

t.test('the real bundle: revision, sha256, entrypoint', async (t) => {
  const b = await readBundle(BUNDLE);
  t.match(b.revision, /^sha256:[0-9a-f]{32}$/);
  t.strictSame(b.entrypoints, ['crm/authz/decision', 'system/log/mask']);
  t.equal(b.sha256, createHash('sha256').update(await readFile(BUNDLE)).digest('hex'));
  t.equal(Buffer.from(b.wasm.subarray(0, 4)).toString('latin1'), '\0asm', 'policy.wasm is WebAssembly');
  const e = await createPolicyEngine(opts());
  t.equal(e.revision, b.revision);
  t.equal(e.bundleSha256, b.sha256);
  t.equal(e.entrypoint, 'crm/authz/decision');
  t.strictSame(e.status(), { revision: b.revision, evaluations: 0, errors: 0, reloads: 0 });
});

t.test('allowed, denied, and deterministic', async (t) => {
  const e = await createPolicyEngine(opts());
  t.strictSame(e.evaluate(input({ object: 'Contact', action: 'list' })), EU_REP_CONTACT_LIST, 'eu-rep lists Contact');
  t.strictSame(e.evaluate(input({ object: 'Account', action: 'create' })), {
    allow: false,
    reasons: [
      { code: 'action.not_permitted', message: 'user u-eu-rep has no role or scope that may create Account' },
      { code: 'region.missing', message: "a new Account must set Region__c to one of the subject's regions (EU)" },
      { code: 'tenant.missing', message: "a new Account must set Tenant__c to the subject's tenant acme" },
    ],
    obligations: {},
  });
  t.strictSame(e.evaluate(input({ object: 'Contact', action: 'list' }, { ...euRep, clearance: 'restricted' })), {
    allow: true,
    reasons: [{ code: 'allow.role', message: 'role sales may list Contact' }],
    obligations: { rows: EU_REP_CONTACT_LIST.obligations.rows },
  }, 'restricted clearance on a good device: rows only');
  const a = JSON.stringify(e.evaluate(input({ object: 'Contact', action: 'list' })));
  const b = JSON.stringify(e.evaluate(input({ object: 'Contact', action: 'list' })));
  t.equal(a, b, 'same input, same bytes');
  const other = await createPolicyEngine(opts());
  t.equal(JSON.stringify(other.evaluate(input({ object: 'Contact', action: 'list' }))), a, 'same bytes from a second instance');
  t.strictSame(e.status(), { revision: e.revision, evaluations: 5, errors: 0, reloads: 0 });
});

t.test('an empty input is denied with reasons, not an error', async (t) => {
  const e = await createPolicyEngine(opts());
  const d = e.evaluate({});
  if (isRefusal(d)) return t.fail(d.code);
  t.equal(d.allow, false);
  t.strictSame(d.reasons.map((r) => r.code), ['action.not_permitted', 'region.none', 'resource.unclassified', 'subject.tenant_missing']);
});

t.test('a ~1 MB input fits the memory descriptor and the engine keeps answering', async (t) => {
  for (const initial of [64, 2]) {
    const e = await createPolicyEngine(opts({ memoryInitialPages: initial }));
    const big = input({ object: 'Contact', action: 'list', fields: Array.from({ length: 16 }, (_, i) => `F${i}_${'x'.repeat(65_536)}`) });
    t.ok(JSON.stringify(big).length > 1_000_000, 'input is over 1 MB');
    const d = e.evaluate(big);
    if (isRefusal(d)) {
      t.fail(`${initial} pages: ${d.code} ${d.detail}`);
      continue;
    }
    t.equal(d.allow, true, `${initial} initial pages: big input decided`);
    t.strictSame(d.reasons, EU_REP_CONTACT_LIST.reasons);
    t.strictSame(e.evaluate(input({ object: 'Contact', action: 'list' })), EU_REP_CONTACT_LIST, `${initial} initial pages: still answering`);
    t.strictSame(e.status(), { revision: e.revision, evaluations: 2, errors: 0, reloads: 0 });
  }
});

t.test('an input that cannot be evaluated fails closed, and a fresh instance takes over', async (t) => {
  const e = await createPolicyEngine(opts());
  const r = e.evaluate({ resource: { n: 1n } });
  t.match(r, { refusal: true, code: 'GW_ERR_POLICY_ERROR', detail: /^evaluation failed: / });
  t.strictSame(e.evaluate(input({ object: 'Contact', action: 'list' })), {
    refusal: true,
    code: 'GW_ERR_POLICY_ERROR',
    detail: 'policy instance is being rebuilt after an evaluation error',
  });
  for (let i = 0; i < 100 && e.status().reloads === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.strictSame(e.evaluate(input({ object: 'Contact', action: 'list' })), EU_REP_CONTACT_LIST);
  t.strictSame(e.status(), { revision: e.revision, evaluations: 3, errors: 2, reloads: 1 });
});

t.test('a wrong entrypoint is a BundleError naming policy.entrypoint', async (t) => {
  t.strictSame(await rejection(createPolicyEngine(opts({ entrypoint: 'crm/authz/allow' }))), {
    name: 'BundleError',
    message: 'policy.entrypoint: "crm/authz/allow" is not an entrypoint of the bundle (has crm/authz/decision, system/log/mask)',
  });
});

t.test('unusable bundles are BundleErrors naming policy.bundle', async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, 'missing.tar.gz');
  t.strictSame(await rejection(readBundle(missing)), { name: 'BundleError', message: `policy.bundle: cannot read ${missing} (ENOENT); run \`npm run build\`` });
  t.strictSame(await rejection(createPolicyEngine(opts({ bundlePath: missing }))), { name: 'BundleError', message: `policy.bundle: cannot read ${missing} (ENOENT); run \`npm run build\`` });
  t.strictSame(await rejection(readBundle(dir)), { name: 'BundleError', message: `policy.bundle: cannot read ${dir} (EISDIR); run \`npm run build\`` }, 'a directory');

  const text = join(dir, 'not-a-tar.gz');
  await writeFile(text, 'this is not a tar file at all, just some text that goes on for a while\n'.repeat(20));
  const nt = await rejection(readBundle(text));
  t.equal(nt.name, 'BundleError', 'text file');
  t.match(nt.message, new RegExp(`^policy\\.bundle: ${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `));

  const gzText = join(dir, 'gz-text.tar.gz');
  await writeFile(gzText, gzipSync(Buffer.alloc(4096, 'a')));
  const gt = await rejection(readBundle(gzText));
  t.equal(gt.name, 'BundleError', 'gzipped non-tar');
  t.match(gt.message, /^policy\.bundle: /);

  const truncated = join(dir, 'truncated.tar.gz');
  const real = await readFile(BUNDLE);
  await writeFile(truncated, real.subarray(0, real.length >> 1));
  const tr = await rejection(readBundle(truncated));
  t.equal(tr.name, 'BundleError', 'truncated bundle');
  t.match(tr.message, /^policy\.bundle: /);

  const noWasm = await makeBundle(join(dir, 'a'), { '.manifest': JSON.stringify({ revision: 'r1' }), 'data.json': '{}' });
  t.strictSame(await rejection(readBundle(noWasm)), { name: 'BundleError', message: `policy.bundle: ${noWasm} has no policy.wasm; build it with opa build -t wasm` });

  const noRevision = await makeBundle(join(dir, 'b'), { 'policy.wasm': new Uint8Array([0, 97, 115, 109]), '.manifest': JSON.stringify({ wasm: [] }) });
  t.strictSame(await rejection(readBundle(noRevision)), { name: 'BundleError', message: `policy.bundle: ${noRevision} has no revision in .manifest; build with --revision` });

  const noManifest = await makeBundle(join(dir, 'c'), { 'policy.wasm': new Uint8Array([0, 97, 115, 109]) });
  t.strictSame(await rejection(readBundle(noManifest)), { name: 'BundleError', message: `policy.bundle: ${noManifest} has no revision in .manifest; build with --revision` });
});

t.test('a bundle whose .manifest or data.json is not JSON is a BundleError too', async (t) => {
  const dir = await tempDir(t);
  // main.ts turns only ConfigError/BundleError into "config error: …" and exit status 2
  const badManifest = await makeBundle(join(dir, 'm'), { 'policy.wasm': new Uint8Array([0, 97, 115, 109]), '.manifest': '{revision: r1' });
  const m = await rejection(readBundle(badManifest));
  t.equal(m.name, 'BundleError', '.manifest not JSON');
  t.match(m.message, /^policy\.bundle: /);
  const badData = await makeBundle(join(dir, 'd'), { 'policy.wasm': new Uint8Array([0, 97, 115, 109]), '.manifest': '{"revision":"r1"}', 'data.json': '{"crm":' });
  const d = await rejection(readBundle(badData));
  t.equal(d.name, 'BundleError', 'data.json not JSON');
  t.match(d.message, /^policy\.bundle: /);
});

t.test('BundleError is an Error with its own name', async (t) => {
  const e = new BundleError('policy.bundle: x');
  t.ok(e instanceof Error);
  t.equal(e.name, 'BundleError');
});

t.test('the decision-log mask entrypoint: evaluated on {path, input}, raw result', async (t) => {
  const e = await createPolicyEngine(opts());
  t.equal(e.hasMask, true);
  const input = { resource: { object: 'Contact', action: 'create', body: { Email: 'a@b', Name: 'Ann' } } };
  t.strictSame(e.mask('crm/authz/decision', input), { result: ['/input/resource/body/Email'] });
  t.strictSame(e.mask('crm/authz/decision', {}), { result: [] });
  t.strictSame(e.mask('crm/authz/decision', input, canonicalJson(input)), { result: ['/input/resource/body/Email'] }, 'the same from its JSON text');
  t.strictSame(e.mask('crm/authz/decision', {}, '{}'), { result: [] });
  // The text is what is evaluated, not the value beside it.
  t.strictSame(e.mask('crm/authz/decision', {}, canonicalJson(input)), { result: ['/input/resource/body/Email'] }, 'the text decides');
  t.equal(e.status().evaluations, 0, 'mask evaluations are not policy evaluations');
});

t.test('an input given with its JSON text is decided exactly as the value', async (t) => {
  const e = await createPolicyEngine(opts());
  const cases = [
    input({ object: 'Contact', action: 'list' }),
    input({ object: 'Account', action: 'create' }),
    input({ object: 'Contact', action: 'list' }, { ...euRep, clearance: 'restricted' }),
    input({ object: 'Quote', action: 'create', body: { Discount: 35, Name: 'é ✓ \u2028' } }),
    {},
  ];
  for (const [i, x] of cases.entries()) {
    const text = canonicalJson(x)!;
    t.strictSame(e.evaluate(x, text), e.evaluate(x), `case ${i}`);
  }
  // The text is what is evaluated: a different text gives that text's answer (so the test above
  // compares two real evaluations, not one answer twice).
  const list = input({ object: 'Contact', action: 'list' });
  const create = input({ object: 'Account', action: 'create' });
  t.strictSame(e.evaluate(list, canonicalJson(create)), e.evaluate(create));
  t.notSame(e.evaluate(create), e.evaluate(list));
  // Wasm reads text that is not JSON as no input at all (documented on evaluate): a denial.
  const bad = e.evaluate(list, '{"subject":');
  t.ok(!isRefusal(bad) && !bad.allow, 'text that is not JSON: denied, as an empty input');
  t.strictSame(bad, e.evaluate({}));
  t.strictSame(e.evaluate(list), EU_REP_CONTACT_LIST, 'and the next evaluation answers again');
});
