/**
 * Upstream and IdP faults on loopback: every one ends in a problem+json answer with its own
 * reason code, an outcome or decision record, and never a crash or a pass-through.
 */
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { SignJWT, generateKeyPair } from 'jose';
import { startHarness, type Harness } from './helpers/harness.ts';

const record = (i: number, tenant: string) => ({
  attributes: { type: 'Contact', url: `/services/data/v60.0/sobjects/Contact/003000000000${String(i).padStart(3, '0')}AAA` },
  Id: `003000000000${String(i).padStart(3, '0')}AAA`,
  Name: `N${i}`,
  Tenant__c: tenant,
  Region__c: 'EU',
});
const page = JSON.stringify({ totalSize: 4, done: true, records: [record(1, 'acme'), record(2, 'globex'), record(3, 'acme'), record(4, 'globex')] });

// Salesforce's answer to a create that duplicate rules block: the matching records, of any tenant.
const duplicates = JSON.stringify([
  {
    duplicateResult: {
      allowSave: false,
      duplicateRule: 'Standard_Quote_Duplicate_Rule',
      matchResults: [{ entityType: 'Quote', matchRecords: [{ record: { attributes: { type: 'Quote' }, Id: '0Q0000000000099AAA', Name: 'Globex secret quote', Tenant__c: 'globex', Discount: 60 } }] }],
    },
    errorCode: 'DUPLICATES_DETECTED',
    message: 'Use one of these records?',
    fields: [],
  },
]);

const sockets = new Set<import('node:net').Socket>();
const faulty: Server = createServer((req, res) => {
  const u = req.url ?? '';
  if (req.method === 'POST') {
    // Writes: the Quote's Name picks the answer.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const name = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Name?: string }).Name;
      if (name === 'dupe') res.writeHead(400, { 'content-type': 'application/json' }).end(duplicates);
      else if (name === 'html') res.writeHead(500, { 'content-type': 'text/html' }).end('<html>Tenant globex: stack trace</html>');
      else if (name === 'busy') res.writeHead(503, { 'retry-after': '7', 'content-length': '0' }).end();
      else if (name === 'moved') res.writeHead(303, { location: 'http://crm.internal:8443/services/data/v60.0/sobjects/Quote/0Q0000000000099AAA', 'content-length': '0' }).end();
      else if (name === 'problem') res.writeHead(409, { 'content-type': 'application/problem+json' }).end('[{"errorCode":"CONFLICT","message":"changed meanwhile"}]');
      else if (name === 'gzcut') res.writeHead(400, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(duplicates).subarray(0, 10));
      else res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"0Q0000000000001AAA","success":true,"errors":[]}');
    });
    return;
  }
  if (u.includes('qerr')) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify([{ errorCode: 'MALFORMED_QUERY', message: 'unexpected token', fields: ['Name'], sample: record(2, 'globex') }, 'globex']));
    return;
  }
  if (u.includes('hang')) return; // never answers: headers timeout
  if (u.includes('stall')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"totalSize":1,');
    return; // body never finishes: body timeout
  }
  if (u.includes('cut')) {
    // Part of the body, then the connection is reset: the body never completes.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
    res.write('{"totalSize":1,"done":true,"records":[', () => setTimeout(() => res.socket?.resetAndDestroy(), 20));
    return;
  }
  if (u.includes('gzip')) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(page));
    return;
  }
  if (u.includes('big')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ totalSize: 1, done: true, records: [{ ...record(1, 'acme'), Name: 'x'.repeat(200_000) }] }));
    return;
  }
  if (u.includes('weird')) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd-foo' }).end(page);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(page);
});
faulty.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
await new Promise<void>((r) => faulty.listen(0, '127.0.0.1', r));
const faultyUrl = `http://127.0.0.1:${(faulty.address() as AddressInfo).port}`;

// A port that was open a moment ago and is closed now: connection refused.
const closed = createServer();
await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
await new Promise<void>((r) => closed.close(() => r()));

const h: Harness = await startHarness({
  extraUpstreams: [
    { name: 'faulty', url: faultyUrl, prefix: '/faulty', adapter: 'salesforce' },
    { name: 'gone', url: closedUrl, prefix: '/gone', adapter: 'salesforce' },
  ],
  config: (raw) => {
    (raw.issuers as unknown[]).push({ issuer: closedUrl, audience: 'crm-gateway', algorithms: ['ES256'], allowInsecureHttp: true });
    raw.limits = { responseBodyBytes: 100_000 };
    raw.timeouts = { connectMs: 1000, headersMs: 800, bodyMs: 800, discoveryMs: 500 };
  },
});
t.teardown(async () => {
  await h.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => faulty.close(() => r()));
});

const q = (prefix: string, tag: string) => `${prefix}/services/data/v60.0/query?q=SELECT%20Id,%20Name,%20Tenant__c,%20Region__c%20FROM%20Contact%20WHERE%20Name%20=%20%27${tag}%27`;

const expectProblem = async (t: Test, res: Response, status: number, reason: string) => {
  t.equal(res.status, status, `status ${status}`);
  const p = (await res.json()) as { reason: string; decision_id: string };
  t.equal(p.reason, reason);
  const outcome = (await h.records()).find((r) => r.decision_id === p.decision_id && r.kind === 'outcome');
  t.equal(outcome?.reason, reason, 'outcome record names the reason');
};

t.test('gzip body from the upstream is decoded, filtered and sent unencoded', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  const res = await h.call(q('/faulty', 'gzip'), { token: accessToken, posture });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-encoding'), null);
  const body = (await res.json()) as { totalSize: number; records: { Tenant__c: string }[] };
  t.equal(body.totalSize, 2);
  t.same(body.records.map((r) => r.Tenant__c), ['acme', 'acme']);
});

t.test('upstream faults → 504 / 502 with reason codes', async (t) => {
  const { accessToken, posture } = await h.tokens('eu-rep');
  const auth = { token: accessToken, posture };
  await expectProblem(t, await h.call(q('/faulty', 'hang'), auth), 504, 'upstream.timeout');
  await expectProblem(t, await h.call(q('/faulty', 'stall'), auth), 504, 'upstream.timeout');
  await expectProblem(t, await h.call(q('/faulty', 'big'), auth), 502, 'upstream.body_too_large');
  await expectProblem(t, await h.call(q('/faulty', 'cut'), auth), 502, 'upstream.unreachable');
  await expectProblem(t, await h.call(q('/faulty', 'weird'), auth), 502, 'upstream.encoding_unsupported');
  await expectProblem(t, await h.call(q('/gone', 'x'), auth), 502, 'upstream.unreachable');
  const after = await h.call(q('/faulty', 'plain'), auth);
  t.equal(after.status, 200, 'the gateway still serves after the faults');
});

t.test("an upstream's error answers: only the adapter's error members reach the client", async (t) => {
  const bot = await h.idp.token('quote-bot');
  const quote = (name: string) => ({ Name: name, OpportunityId: '006000000000001AAA', Status: 'Draft', Discount: 15, TotalPrice: 100, Tenant__c: 'acme', Region__c: 'EU' });
  const post = (name: string) => h.call('/faulty/services/data/v60.0/sobjects/Quote', { method: 'POST', token: bot, body: quote(name) });
  const outcomeOf = async (id: string | null) => (await h.records()).find((r) => r.decision_id === id && r.kind === 'outcome') as Record<string, unknown> | undefined;

  const created = await post('fine');
  t.equal(created.status, 201, 'a write that succeeds is answered as the upstream answered');
  t.same(await created.json(), { id: '0Q0000000000001AAA', success: true, errors: [] });

  const dupe = await post('dupe');
  t.equal(dupe.status, 400, "the upstream's status is kept");
  const text = await dupe.text();
  t.same(JSON.parse(text), [{ errorCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: [] }], 'code, message and fields only');
  t.notMatch(text, /globex|Globex|0Q0000000000099AAA/, "the other tenant's record is not in the answer");
  const o = await outcomeOf(dupe.headers.get('x-decision-id'));
  t.same(o?.error_body, { dropped: ['/0/duplicateResult'], dropped_total: 1 }, 'the outcome record names what was dropped');
  t.equal(o?.status, 400);

  const busy = await post('busy');
  t.equal(busy.status, 503, 'an error without a body keeps its status');
  t.equal(busy.headers.get('retry-after'), '7', 'and its headers');
  t.equal(await busy.text(), '');
  const bo = await outcomeOf(busy.headers.get('x-decision-id'));
  t.equal(bo?.status, 503);
  t.notOk(bo && 'error_body' in bo, 'no error body to report');

  const moved = await post('moved');
  t.equal(moved.status, 303);
  t.equal(moved.headers.get('location'), null, "the upstream's own URL is not passed on");
  const problem = await post('problem');
  t.equal(problem.status, 409);
  t.match(problem.headers.get('content-type'), /^application\/problem\+json/, 'an RFC 9457 error keeps its media type');
  t.same(await problem.json(), [{ errorCode: 'CONFLICT', message: 'changed meanwhile' }]);

  const gzcut = await post('gzcut');
  t.equal(gzcut.status, 502, 'a compressed error body cut short (ended cleanly) is refused…');
  t.equal(((await gzcut.json()) as { reason: string }).reason, 'upstream.encoding_unsupported');
  t.equal((await post('fine')).status, 201, '…and the gateway is still there');

  const html = await post('html');
  t.equal(html.status, 502);
  const p = (await html.json()) as { reason: string; decision_id: string };
  t.equal(p.reason, 'upstream.not_json', 'an error body the gateway cannot read is not passed through');
  t.equal((await outcomeOf(p.decision_id))?.reason, 'upstream.not_json');

  const { accessToken, posture } = await h.tokens('eu-rep');
  const qerr = await h.call(q('/faulty', 'qerr'), { token: accessToken, posture });
  t.equal(qerr.status, 400);
  t.same(await qerr.json(), [{ errorCode: 'MALFORMED_QUERY', message: 'unexpected token', fields: ['Name'] }], 'a filtered route: the same rule');
  t.same((await outcomeOf(qerr.headers.get('x-decision-id')))?.error_body, { dropped: ['/0/sample', '/1'], dropped_total: 2 });
});

t.test('an issuer whose discovery is down: its tokens get 503 auth.keys_unavailable, others still work', async (t) => {
  const { privateKey } = await generateKeyPair('ES256');
  const token = await new SignJWT({ sub: 'u1', tenant: 'acme' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(closedUrl).setAudience('crm-gateway').setExpirationTime('5m').sign(privateKey);
  const res = await h.call(q('/faulty', 'plain'), { token });
  t.equal(res.status, 503);
  t.equal(res.headers.get('retry-after'), '5');
  t.equal(((await res.json()) as { reason: string }).reason, 'auth.keys_unavailable');
  const ready = (await (await fetch(`${h.gw.url}/readyz`)).json()) as { ready: boolean; issuers: { issuer: string; ready: boolean }[] };
  t.equal(ready.ready, false, 'unready while an issuer has no keys');
  t.same(ready.issuers.filter((i) => !i.ready).map((i) => i.issuer), [closedUrl]);
  const { accessToken, posture } = await h.tokens('eu-rep');
  t.equal((await h.call(q('/faulty', 'plain'), { token: accessToken, posture })).status, 200, 'other issuers unaffected');
});
