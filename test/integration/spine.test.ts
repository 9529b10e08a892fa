/**
 * The spine end to end: real gateway, real OIDC provider (oidc-provider, client credentials),
 * real development issuer, real Salesforce-shaped upstream, real Wasm bundle, real log file.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, generateKeyPair } from 'jose';
import { DEMO_IDS } from '../../gateway/demo/crm-data.ts';
import { startHarness, soql, API, type Harness } from './helpers/harness.ts';

type Problem = { status: number; code: string; reason: string; reasons: { code: string; message: string }[]; decision_id: string };

// An upstream that answers every Salesforce query with a body the gateway must not pass through.
const bad = createServer((req, res) => {
  if (req.url?.includes('notjson')) {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html>records</html>');
  } else if (req.url?.includes('dupkeys')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"totalSize":1,"done":true,"records":[],"records":[{"attributes":{"type":"Contact"},"Tenant__c":"globex"}]}');
  } else {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"totalSize": 1, "done": true, "records": [ {"Id": ');
  }
});
await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
const badUrl = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;

const h: Harness = await startHarness({
  extraUpstreams: [{ name: 'broken', url: badUrl, prefix: '/broken', adapter: 'salesforce' }],
});
t.teardown(async () => {
  await h.close();
  await new Promise<void>((r) => bad.close(() => r()));
});

const problem = async (res: Response): Promise<Problem> => {
  t.match(res.headers.get('content-type'), /^application\/problem\+json(;|$)/);
  const p = (await res.json()) as Problem;
  t.equal(res.headers.get('x-decision-id'), p.decision_id, 'decision id header matches the body');
  return p;
};

const contactQuery = soql('SELECT Id, Name, Email, Phone, SSN__c, Tenant__c, Region__c FROM Contact LIMIT 40');

t.test('no token → 401 auth.token_missing with RFC 6750 challenge', async (t) => {
  const res = await h.call(contactQuery);
  t.equal(res.status, 401);
  t.equal(res.headers.get('www-authenticate'), 'Bearer realm="crm-gateway"');
  const p = await problem(res);
  t.equal(p.reason, 'auth.token_missing');
  t.equal(p.code, 'GW_ERR_AUTH_TOKEN_MISSING');
});

t.test('token failures → 401 with distinct reason codes, upstream never called', async (t) => {
  const good = await h.idp.token('quote-bot');
  const [head, body, sig] = good.split('.') as [string, string, string];
  const flipped = `${head}.${body}.${sig.slice(0, -4)}${sig.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${body}.`;
  const hs = await new SignJWT({ sub: 'x', tenant: 'acme' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(h.idp.issuer)
    .setAudience('crm-gateway')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode('a-shared-secret-that-is-long-enough-32b'));
  const expired = await h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme' }, { issuedAt: Math.floor(Date.now() / 1000) - 7200, expiresIn: 3600 });
  const future = await h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme' }, { notBefore: '10m' });
  const wrongAud = await h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme', aud: 'someone-else' });
  const { privateKey } = await generateKeyPair('ES256');
  const strangerIss = await new SignJWT({ sub: 'x', tenant: 'acme' }).setProtectedHeader({ alg: 'ES256' }).setIssuer('https://evil.example').setAudience('crm-gateway').setExpirationTime('5m').sign(privateKey);
  const wrongKey = await new SignJWT({ sub: 'x', tenant: 'acme' }).setProtectedHeader({ alg: 'ES256', kid: 'idp-es256-1' }).setIssuer(h.idp.issuer).setAudience('crm-gateway').setExpirationTime('5m').sign(privateKey);
  const cases: [string, string, string][] = [
    ['bad signature', flipped, 'auth.signature_invalid'],
    ['alg none', none, 'auth.algorithm_not_allowed'],
    ['HS256 for an asymmetric issuer', hs, 'auth.algorithm_not_allowed'],
    ['expired', expired, 'auth.token_expired'],
    ['not yet valid', future, 'auth.token_not_yet_valid'],
    ['wrong audience', wrongAud, 'auth.audience_mismatch'],
    ['untrusted issuer', strangerIss, 'auth.issuer_untrusted'],
    ['signed by another key with the issuer kid', wrongKey, 'auth.signature_invalid'],
    ['not a JWT', 'abc.def', 'auth.token_malformed'],
  ];
  const before = h.crm.requests.length;
  for (const [name, token, reason] of cases) {
    const res = await h.call(contactQuery, { token });
    t.equal(res.status, 401, `${name}: 401`);
    t.match(res.headers.get('www-authenticate'), /error="invalid_token"/, `${name}: invalid_token challenge`);
    t.equal((await problem(res)).reason, reason, `${name}: ${reason}`);
  }
  t.equal(h.crm.requests.length, before, 'no refused request reached the upstream');
});

t.test('allowed read → 200, other tenants and regions removed, restricted fields present for a cleared rep', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  const res = await h.call(contactQuery, { token: accessToken, posture });
  t.equal(res.status, 200);
  const body = (await res.json()) as { totalSize: number; records: Record<string, unknown>[] };
  t.ok(body.records.length > 0, 'some rows');
  t.equal(body.totalSize, body.records.length, 'totalSize recomputed');
  for (const r of body.records) {
    t.equal(r.Tenant__c, 'acme');
    t.equal(r.Region__c, 'EU');
    t.match(r.SSN__c, /^900-/, 'cleared rep on a managed device sees SSN');
    t.same((r.attributes as { type: string }).type, 'Contact');
  }
  const id = res.headers.get('x-decision-id');
  const outcome = (await h.records()).find((r) => r.decision_id === id && r.kind === 'outcome') as { filter: { rows_in: number; rows_out: number } };
  t.equal(outcome.filter.rows_in, 40);
  t.equal(outcome.filter.rows_out, body.records.length);
  const fwd = h.crm.requests.at(-1)!;
  t.equal(fwd.url, contactQuery.slice('/sf'.length), 'upstream got the canonical path and query byte for byte');
  t.equal(fwd.headers['x-gateway-subject'], 'u-eu-rep');
  t.equal(fwd.headers['x-gateway-tenant'], 'acme');
  t.equal(fwd.headers['x-gateway-decision-id'], id);
  t.notOk(fwd.headers.authorization, 'caller token not forwarded');
  t.notOk(fwd.headers['x-device-posture-assertion'], 'posture assertion not forwarded');
});

t.test('fields masked and removed per clearance; client identity headers never reach the upstream', async (t) => {
  const { accessToken, posture } = await h.tokens('globex-user');
  const res = await h.call(contactQuery, { token: accessToken, posture, headers: { 'x-gateway-tenant': 'acme', 'X-User': 'admin', 'x-device-managed': 'true' } });
  t.equal(res.status, 200);
  const body = (await res.json()) as { records: Record<string, unknown>[] };
  t.ok(body.records.length > 0);
  for (const r of body.records) {
    t.equal(r.Tenant__c, 'globex');
    t.notOk('SSN__c' in r, 'restricted field removed');
    t.match(r.Email, /@example/, 'confidential visible to confidential clearance');
  }
  const fwd = h.crm.requests.at(-1)!;
  t.equal(fwd.headers['x-gateway-tenant'], 'globex', 'gateway identity header wins');
  t.notOk(fwd.headers['x-user']);
  t.notOk(fwd.headers['x-device-managed']);
  const automation = await h.idp.token('quote-bot');
  const opp = await h.call(soql('SELECT Id, Name, Amount, Tenant__c, Region__c FROM Opportunity LIMIT 10'), { token: automation });
  t.equal(opp.status, 200);
  const ob = (await opp.json()) as { records: Record<string, unknown>[] };
  t.ok(ob.records.length > 0);
  for (const r of ob.records) t.equal(r.Amount, '***', 'confidential Amount masked for internal clearance');
});

t.test('another tenant\'s record by id → 404 resource.not_found', async (t) => {
  const { accessToken, posture } = await h.tokens('globex-user');
  const res = await h.call(`${API}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`, { token: accessToken, posture });
  t.equal(res.status, 404);
  t.equal((await problem(res)).reason, 'resource.not_found');
});

t.test('posture and discount denials → 403 with the policy reasons', async (t) => {
  const unmanaged = await h.tokens('eu-rep-unmanaged');
  const r1 = await h.call(contactQuery, { token: unmanaged.accessToken, posture: unmanaged.posture });
  t.equal(r1.status, 403);
  const p1 = await problem(r1);
  t.equal(p1.reason, 'policy.denied');
  t.same(p1.reasons.map((r) => r.code), ['device.unmanaged']);

  const noPosture = await h.tokens('eu-rep');
  const r2 = await h.call(contactQuery, { token: noPosture.accessToken });
  t.equal(r2.status, 403, 'no posture assertion → unknown device → denied');
  t.same((await problem(r2)).reasons.map((r) => r.code), ['device.unmanaged']);

  const bot = await h.idp.token('quote-bot');
  const before = h.crm.requests.length;
  const quote = { Name: 'Q', OpportunityId: DEMO_IDS.acmeEuOpportunity, Status: 'Draft', Discount: 35, TotalPrice: 100, Tenant__c: 'acme', Region__c: 'EU' };
  const r3 = await h.call(`${API}/sobjects/Quote`, { method: 'POST', token: bot, body: quote });
  t.equal(r3.status, 403);
  const p3 = await problem(r3);
  t.same(p3.reasons.map((r) => r.code), ['automation.discount_limit']);
  t.match(p3.reasons[0]!.message, /35/);
  t.match(p3.reasons[0]!.message, /20/);
  t.equal(h.crm.requests.length, before, 'denied write never reached the upstream');
  const r4 = await h.call(`${API}/sobjects/Quote`, { method: 'POST', token: bot, body: { ...quote, Discount: 15 } });
  t.equal(r4.status, 201);
  t.equal(h.crm.requests.at(-1)!.body, JSON.stringify({ ...quote, Discount: 15 }), 'write body forwarded byte for byte');
});

t.test('ambiguous paths → 400, upstream never called', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  const before = h.crm.requests.length;
  const cases: [string, string][] = [
    [`${API}/sobjects/Contact%2F..%2FQuote/x`, 'request.encoded_separator'],
    [`${API}/sobjects/%2e%2e/Quote`, 'request.dot_segment'],
    [`/sf/services/data/v60.0/sobjects/../sobjects/Contact/${DEMO_IDS.acmeEuContact}`, 'request.dot_segment'],
    [`${API}/sobjects/Contact;x=1/${DEMO_IDS.acmeEuContact}`, 'request.path_parameter'],
    [`${API}/sobjects/Contact%252F`, 'request.double_encoding'],
    [`${API}/sobjects/Contact%00`, 'request.control_char'],
  ];
  for (const [path, reason] of cases) {
    const res = await h.raw(path, { authorization: `Bearer ${accessToken}`, 'x-device-posture-assertion': posture! });
    t.equal(res.status, 400, path);
    t.equal((JSON.parse(res.body) as Problem).reason, reason, `${path}: ${reason}`);
  }
  const abs = await h.raw(`http://127.0.0.1/sf/services/data/v60.0/sobjects/Contact/${DEMO_IDS.acmeEuContact}`, { authorization: `Bearer ${accessToken}` });
  t.equal(abs.status, 400, 'absolute-form target');
  t.equal((JSON.parse(abs.body) as Problem).reason, 'request.non_origin_form');
  t.equal(h.crm.requests.length, before);
});

t.test('upstream bodies that cannot be filtered safely → 502, never passed through', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  const q = (tag: string) => `/broken/services/data/v60.0/query?q=SELECT%20Id,%20Tenant__c,%20Region__c%20FROM%20Contact%20WHERE%20Name%20=%20%27${tag}%27`;
  for (const [tag, reason] of [
    ['truncated', 'upstream.body_unparseable'],
    ['dupkeys', 'upstream.body_unparseable'],
    ['notjson', 'upstream.not_json'],
  ] as const) {
    const res = await h.call(q(tag), { token: accessToken, posture });
    t.equal(res.status, 502, tag);
    t.equal((await problem(res)).reason, reason, `${tag}: ${reason}`);
  }
});

t.test('every answer is in the log: denials with reasons, the same request twice gives identical result and reasons', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep-unmanaged');
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await h.call(contactQuery, { token: accessToken, posture });
    t.equal(res.status, 403);
    ids.push(res.headers.get('x-decision-id')!);
  }
  const records = await h.records();
  const [a, b] = ids.map((id) => records.find((r) => r.decision_id === id && r.kind === 'decision')!);
  t.ok(a && b);
  t.equal(JSON.stringify(a!.result), JSON.stringify(b!.result), 'byte-identical result');
  t.equal(JSON.stringify(a!.reasons), JSON.stringify(b!.reasons), 'byte-identical reasons');
  const denials = records.filter((r) => r.kind === 'decision' && r.allow === false);
  t.ok(denials.length >= 20, `${denials.length} denials logged`);
  for (const d of denials) {
    t.ok(Array.isArray(d.reasons) && (d.reasons as unknown[]).length > 0, `denial ${String(d.decision_id)} has a reason`);
  }
  const raw = JSON.stringify(records);
  t.notOk(raw.includes(accessToken), 'no raw token in the log');
  t.notOk(raw.includes(posture!), 'no posture assertion in the log');
});

t.test('updates: the record\'s current tenant is read first; another tenant\'s record is never written', async (t) => {
  const bot = await h.idp.token('quote-bot');
  const own = await h.call(`${API}/sobjects/Quote/${DEMO_IDS.acmeEuQuote}`, { method: 'PATCH', token: bot, body: { Discount: 10 } });
  t.equal(own.status, 204, 'own tenant, within the limit');
  const patch = h.crm.requests.at(-1)!;
  t.equal(patch.method, 'PATCH');
  t.equal(h.crm.requests.at(-2)!.method, 'GET', 'the current record was read first');
  const before = h.crm.requests.length;
  const other = await h.call(`${API}/sobjects/Quote/${DEMO_IDS.globexUsQuote}`, { method: 'PATCH', token: bot, body: { Discount: 5 } });
  t.equal(other.status, 404, 'another tenant\'s record is answered as missing: its existence is not confirmed');
  const p = await problem(other);
  t.same(p.reasons.map((r) => r.code), ['resource.not_found']);
  t.equal(h.crm.requests.length, before + 1, 'only the read reached the upstream, not the write');
  t.equal(h.crm.requests.at(-1)!.method, 'GET');
  const rec = (await h.records()).find((r) => r.decision_id === p.decision_id)!;
  t.same((rec.reasons as { code: string }[]).map((r) => r.code), ['tenant.mismatch'], 'the log keeps the real reason');
  t.equal(rec.answered, 'resource.not_found');
  t.same((rec.input as { resource: { current: unknown } }).resource.current, { Tenant__c: 'globex', Region__c: 'US' });
  const missing = await h.call(`${API}/sobjects/Quote/0Q0999999999999AAA`, { method: 'PATCH', token: bot, body: { Discount: 5 } });
  t.equal(missing.status, 404, 'a record that does not exist gets the same answer');
  t.same((await problem(missing)).reasons.map((r) => r.code), ['resource.not_found']);
});

t.test('a token in the query string is refused and never logged', async (t) => {
  const { accessToken } = await h.tokens('eu-rep');
  const before = h.crm.requests.length;
  const res = await h.call(`${API}/sobjects/Contact/${DEMO_IDS.acmeEuContact}?access_token=${accessToken}`);
  t.equal(res.status, 400);
  t.equal((await problem(res)).reason, 'request.token_in_query');
  t.equal(h.crm.requests.length, before);
  t.notOk(JSON.stringify(await h.records()).includes(accessToken.slice(-40)), 'token not in the log');
});

t.test('a query that leaves out the row-filter fields → 400 naming them, not a silently empty answer', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  const res = await h.call(soql('SELECT Id, Name FROM Contact LIMIT 5'), { token: accessToken, posture });
  t.equal(res.status, 400);
  const p = await problem(res);
  t.equal(p.reason, 'resource.row_fields_missing');
  t.match(p.reasons[0]!.message, /Region__c, Tenant__c/);
});

t.test('a missing record and a hidden record get the same answer', async (t) => {
  const { accessToken, posture } = await h.tokens('globex-user');
  const hidden = await h.call(`${API}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`, { token: accessToken, posture });
  const missing = await h.call(`${API}/sobjects/Contact/003999999999999AAA`, { token: accessToken, posture });
  t.equal(hidden.status, 404);
  t.equal(missing.status, 404);
  const [a, b] = [await problem(hidden), await problem(missing)];
  t.same({ ...a, decision_id: '' }, { ...b, decision_id: '' }, 'identical bodies but for the decision id');
});

t.test('filtering on a field above the clearance → 403 classification.filter_forbidden, upstream never called', async (t) => {
  // The field would be removed from the response, but whether a row comes back reveals its value.
  const { accessToken, posture } = await h.tokens('globex-user');
  const before = h.crm.requests.length;
  const res = await h.call(soql("SELECT Id, Tenant__c, Region__c FROM Contact WHERE SSN__c = '900-07-0037'"), { token: accessToken, posture });
  t.equal(res.status, 403);
  const p = await problem(res);
  t.equal(p.reason, 'policy.denied');
  t.same(p.reasons.map((r) => r.code), ['classification.filter_forbidden']);
  t.match(p.reasons[0]!.message, /Contact\.SSN__c/);
  t.equal(h.crm.requests.length, before, 'the upstream was not called');
  const decision = (await h.records()).find((r) => r.decision_id === p.decision_id && r.kind === 'decision') as { input: { resource: { filter_fields: string[] } } };
  t.same(decision.input.resource.filter_fields, ['SSN__c'], 'the policy saw the filter field');
});

t.test('a decision log that cannot be written refuses the request with 503 (last: closes the log)', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  await h.gw.decisionLog.close();
  const before = h.crm.requests.length;
  const res = await h.call(contactQuery, { token: accessToken, posture });
  t.equal(res.status, 503);
  t.equal(res.headers.get('retry-after'), '5');
  t.equal((await problem(res)).reason, 'audit.write_failed');
  t.equal(h.crm.requests.length, before, 'nothing forwarded without its record');
  const ready = await fetch(`${h.gw.url}/readyz`);
  t.equal(ready.status, 503, 'unready while the log cannot be written');
});
