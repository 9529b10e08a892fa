/**
 * Minimization of the decision log through the real gateway (issue 4 §2): classification-driven
 * erasure of write-body fields by the bundle's default system.log.mask (the value never reaches
 * a segment file, the path is in `erased`, the policy still judged it); a mask rule that fails
 * or returns something malformed refuses the request and writes no unmasked input; an oversized
 * input is truncated with the SHA-256 of the whole, never dropped.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_IDS } from '../../gateway/demo/crm-data.ts';
import { replayLog, SKIP_ERASED, SKIP_TRUNCATED } from '../../audit/replay.ts';
import { API, ROOT, soql, startHarness, type Harness } from './helpers/harness.ts';

const work = await mkdtemp(join(tmpdir(), 'gw-mask-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

/** Every byte the gateway wrote to its segment files. */
async function segmentBytes(h: Harness): Promise<string> {
  const dir = h.gw.decisionLog.instanceDir;
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
  return (await Promise.all(names.map((n) => readFile(join(dir, n), 'latin1')))).join('');
}

/** The pack with its system.log.mask replaced, built by the real build script. */
async function buildWithMask(name: string, maskRego: string): Promise<string> {
  const src = join(work, name);
  await cp(join(ROOT, 'policies'), src, { recursive: true });
  await writeFile(join(src, 'system', 'log', 'mask.rego'), maskRego);
  const out = join(work, `${name}.tar.gz`);
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-policies.ts'), '--src', src, '--out', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  t.match(r.stderr, 'system/log/mask', 'built with the mask entrypoint');
  return out;
}

// Body fields the adapter hands to the policy (and so to the log): by default only Tenant__c,
// Region__c and a Quote's Discount; here also confidential and restricted ones.
const bodyFields = (raw: Record<string, unknown>) => {
  const ups = raw.upstreams as { adapterOptions?: unknown }[];
  ups[0]!.adapterOptions = { bodyFields: { '*': ['Tenant__c', 'Region__c'], Quote: ['Discount', 'TotalPrice'], Contact: ['Name', 'Email', 'SSN__c'] } };
};

t.test('confidential and restricted body fields never reach the segment files', async (t) => {
  const h = await startHarness({ config: bodyFields });
  t.teardown(() => h.close());
  const { accessToken, posture } = await h.tokens('eu-rep');
  const quote = { Name: 'Q-min', OpportunityId: DEMO_IDS.acmeEuOpportunity, Status: 'Draft', Discount: 15, TotalPrice: 98765.4321, Tenant__c: 'acme', Region__c: 'EU' };
  const q = await h.call(`${API}/sobjects/Quote`, { method: 'POST', token: accessToken, posture, body: quote });
  t.equal(q.status, 201);
  t.equal(h.crm.requests.at(-1)!.body, JSON.stringify(quote), 'the upstream got the whole body');
  // sales may not create Contacts: a denial, whose record carries the input too.
  const contact = { Name: 'Ann Pii', Email: 'ann.pii.9431@example.com', SSN__c: '078-05-1120', Tenant__c: 'acme', Region__c: 'EU' };
  const c = await h.call(`${API}/sobjects/Contact`, { method: 'POST', token: accessToken, posture, body: contact });
  t.equal(c.status, 403);

  const bytes = await segmentBytes(h);
  for (const secret of ['98765.4321', 'ann.pii.9431', '078-05-1120']) t.notOk(bytes.includes(secret), `${secret} is not in the segment files`);
  const recs = await h.records();
  const qr = recs.find((r) => r.kind === 'decision' && r.decision_id === q.headers.get('x-decision-id'))!;
  t.same(qr.erased, ['/input/resource/body/TotalPrice']);
  t.same((qr.input as { resource: { body: unknown } }).resource.body, { Discount: 15, Tenant__c: 'acme', Region__c: 'EU' }, 'Discount is kept (data.crm.log.keep_body_fields)');
  t.equal(qr.allow, true);
  t.notOk('masked' in qr);
  const cr = recs.find((r) => r.kind === 'decision' && r.decision_id === c.headers.get('x-decision-id'))!;
  t.same(cr.erased, ['/input/resource/body/Email', '/input/resource/body/SSN__c']);
  t.same((cr.input as { resource: { body: unknown } }).resource.body, { Name: 'Ann Pii', Tenant__c: 'acme', Region__c: 'EU' }, 'internal fields stay');

  const replay = await replayLog(join(h.logDir, 'decisions'));
  t.equal(replay.skipped[SKIP_ERASED], 2, 'both decisions are skipped by replay (erased), not mismatched');
  t.equal(replay.mismatches.length, 0);
});

t.test('a mask rule that returns something malformed refuses the request; no unmasked input is written', async (t) => {
  const bundle = await buildWithMask('malformed', 'package system.log\n\nmask contains 42 if input.input.request\n');
  const h = await startHarness({ config: (raw) => ((raw.policy as Record<string, unknown>).bundle = bundle) });
  t.teardown(() => h.close());
  const { accessToken, posture } = await h.tokens('eu-rep');
  const before = h.crm.requests.length;
  const res = await h.call(soql("SELECT Id, Name FROM Contact WHERE Name = 'Unmasked Marker 5521'"), { token: accessToken, posture });
  t.equal(res.status, 503);
  t.equal(res.headers.get('retry-after'), '5');
  const p = (await res.json()) as { reason: string };
  t.equal(p.reason, 'audit.mask_failed');
  t.equal(h.crm.requests.length, before, 'nothing forwarded');
  t.notOk((await segmentBytes(h)).includes('Unmasked Marker'), 'the query text is not in the log');
  const rec = (await h.records()).find((r) => r.decision_id === res.headers.get('x-decision-id'))!;
  t.match(rec, { kind: 'decision', decided_by: 'gateway', allow: false, status: 503, result: null, input: {} });
  t.same((rec.reasons as { code: string }[]).map((x) => x.code), ['audit.mask_failed']);

  // A refusal before the policy ran goes through the mask as well.
  const anon = await h.call(soql("SELECT Id FROM Contact WHERE Name = 'Unmasked Marker 5521'"));
  t.equal(anon.status, 503);
  t.notOk((await segmentBytes(h)).includes('Unmasked Marker'));
});

t.test('a mask rule that fails to evaluate refuses the request', async (t) => {
  // Two values for one complete rule: a conflict at evaluation time (Wasm aborts).
  const rego = 'package system.log\n\nmask := {"/input/a"} if input.input.request\n\nmask := {"/input/b"} if input.input.request.method\n';
  const bundle = await buildWithMask('conflict', rego);
  const h = await startHarness({ config: (raw) => ((raw.policy as Record<string, unknown>).bundle = bundle) });
  t.teardown(() => h.close());
  const { accessToken, posture } = await h.tokens('eu-rep');
  const res = await h.call(soql("SELECT Id, Name FROM Contact WHERE Name = 'Unmasked Marker 7730'"), { token: accessToken, posture });
  t.equal(res.status, 503);
  t.equal(((await res.json()) as { reason: string }).reason, 'audit.mask_failed');
  t.notOk((await segmentBytes(h)).includes('Unmasked Marker'));
});

t.test('a mask upsert replaces the value and lists the path in masked', async (t) => {
  const rego = 'package system.log\n\nmask contains {"op": "upsert", "path": "/input/request/query/q", "value": ["**REDACTED**"]} if input.input.request.query.q\n';
  const bundle = await buildWithMask('upsert', rego);
  const h = await startHarness({ config: (raw) => ((raw.policy as Record<string, unknown>).bundle = bundle) });
  t.teardown(() => h.close());
  const { accessToken, posture } = await h.tokens('eu-rep');
  const res = await h.call(soql("SELECT Id, Name, Tenant__c, Region__c FROM Contact WHERE Name = 'Upsert Marker 1207'"), { token: accessToken, posture });
  t.equal(res.status, 200);
  await res.arrayBuffer();
  t.notOk((await segmentBytes(h)).includes('Upsert Marker'));
  const rec = (await h.records()).find((r) => r.kind === 'decision' && r.decision_id === res.headers.get('x-decision-id'))!;
  t.same(rec.masked, ['/input/request/query/q']);
  t.same(rec.erased, []);
  t.same((rec.input as { request: { query: unknown } }).request.query, { q: ['**REDACTED**'] });
  const replay = await replayLog(join(h.logDir, 'decisions'));
  t.equal(replay.skipped[SKIP_ERASED], 1, 'a masked record is skipped by replay like an erased one');
});

t.test('an oversized input is truncated with the SHA-256 of the whole, never dropped', async (t) => {
  const h = await startHarness({ config: (raw) => ((raw.decisionLog as Record<string, unknown>).maxInputBytes = 2048) });
  t.teardown(() => h.close());
  const { accessToken, posture } = await h.tokens('eu-rep');
  const marker = 'Z'.repeat(4000);
  const res = await h.call(soql(`SELECT Id, Name, Tenant__c, Region__c FROM Contact WHERE Name = '${marker}'`), { token: accessToken, posture });
  t.equal(res.status, 200, 'the request is served');
  await res.arrayBuffer();
  t.notOk((await segmentBytes(h)).includes(marker));
  const rec = (await h.records()).find((r) => r.kind === 'decision' && r.decision_id === res.headers.get('x-decision-id'))!;
  t.equal(rec.input_truncated, true);
  t.equal(rec.allow, true);
  const input = rec.input as { truncated: boolean; bytes: number; sha256: string; request: unknown };
  t.equal(input.truncated, true);
  t.ok(input.bytes > 4000);
  t.match(input.sha256, /^[0-9a-f]{64}$/);
  t.same(input.request, { method: 'GET', path: '/services/data/v60.0/query' });
  // A small input next to it is written whole.
  const small = await h.call(soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact'), { token: accessToken, posture });
  await small.arrayBuffer();
  const srec = (await h.records()).find((r) => r.kind === 'decision' && r.decision_id === small.headers.get('x-decision-id'))!;
  t.notOk('input_truncated' in srec);
  const replay = await replayLog(join(h.logDir, 'decisions'));
  t.equal(replay.skipped[SKIP_TRUNCATED], 1, 'replay skips the truncated record and says so');
  t.equal(replay.mismatches.length, 0);
});
