/**
 * Request hygiene at the perimeter, on the real gateway: RFC 6750 §2.3 query tokens when
 * `proxy.allowQueryToken` is on (used, then removed from what the policy, the decision log and
 * the upstream see, the rest of the query forwarded byte for byte), oversized tokens (431), and
 * forwarding headers: believed only from `proxy.trustedProxies`, never passed on from clients,
 * replaced by the gateway's own.
 */
import t from 'tap';
import { request as httpRequest } from 'node:http';
import { API, soql, startHarness, type Harness } from './helpers/harness.ts';

const h: Harness = await startHarness({
  config: (raw) => {
    // Requests from 127.0.0.2 come "through a proxy"; from 127.0.0.1 they come from clients.
    raw.proxy = { allowQueryToken: true, trustedProxies: ['127.0.0.2'] };
  },
});
t.teardown(() => h.close());

const token = (await h.tokens('eu-rep')).accessToken;
const path = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');

/** One GET with raw header lines, from a chosen loopback address. */
function send(target: string, rawHeaders: string[] = [], localAddress = '127.0.0.1'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(h.gw.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method: 'GET', path: target, localAddress, headers: ['host', u.host, ...rawHeaders] }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
const reason = (body: string) => (JSON.parse(body) as { reason: string }).reason;
const lastUpstream = () => h.crm.requests.at(-1)!;

t.test('query token accepted and removed from the query the policy, log and upstream see', async (t) => {
  const q = path.slice(path.indexOf('?') + 1);
  for (const [name, target, forwardedQuery] of [
    ['token last', `${path}&access_token=${token}`, q],
    ['token first', `${API}/query?access_token=${token}&${q}`, q],
    ['token in the middle, empty pieces kept', `${API}/query?&${q}&access_token=${token}&`, `&${q}&`],
  ] as const) {
    const before = h.crm.requests.length;
    const res = await send(target);
    t.equal(res.status, 200, `${name}: ${res.body.slice(0, 200)}`);
    t.equal(h.crm.requests.length, before + 1, `${name}: forwarded`);
    const url = lastUpstream().url;
    t.equal(url.slice(url.indexOf('?') + 1), forwardedQuery, `${name}: the rest of the query byte for byte`);
    t.notOk(url.includes('access_token'), `${name}: no access_token upstream`);
    t.notOk(lastUpstream().headers.authorization, `${name}: no credential upstream`);
  }
  const records = await h.records();
  t.notOk(JSON.stringify(records).includes(token), 'the token is in no decision record');
  const decision = records.filter((r) => r.kind === 'decision').at(-1) as { input: { request: { query: Record<string, unknown> } } };
  t.same(Object.keys(decision.input.request.query), ['q'], 'the policy saw q only');
});

t.test('query token refusals', async (t) => {
  const before = h.crm.requests.length;
  const both = await send(`${path}&access_token=${token}`, ['authorization', `Bearer ${token}`]);
  t.equal(both.status, 400, 'header and query');
  t.equal(reason(both.body), 'request.token_in_query');
  const two = await send(`${path}&access_token=${token}&access_token=${token}`);
  t.equal(two.status, 400, 'two query tokens');
  t.equal(reason(two.body), 'request.token_in_query');
  const encodedName = await send(`${path}&access%5Ftoken=${token}&access_token=${token}`);
  t.equal(encodedName.status, 400, 'an encoded parameter name is the same parameter');
  const big = await send(`${path}&access_token=${'a'.repeat(9000)}`);
  t.equal(big.status, 431, 'oversized query token');
  t.equal(reason(big.body), 'request.token_too_large');
  const bad = await send(`${path}&access_token=not.a.jwt`);
  t.equal(bad.status, 401);
  t.equal(reason(bad.body), 'auth.token_malformed');
  t.equal(h.crm.requests.length, before, 'none forwarded');
  t.notOk(JSON.stringify(await h.records()).includes(token), 'the token is in no refusal record');
});

t.test('oversized Authorization header token: 431', async (t) => {
  const res = await send(path, ['authorization', `Bearer ${'a'.repeat(9000)}`]);
  t.equal(res.status, 431);
  t.equal(reason(res.body), 'request.token_too_large');
  t.notOk(res.headers['www-authenticate'], 'not an authentication challenge');
});

t.test("Salesforce's duplicate-rule header reaches the upstream without includeRecordDetails or allowSave", async (t) => {
  const res = await send(path, ['authorization', `Bearer ${token}`, 'Sforce-Duplicate-Rule-Header', 'allowSave=true; runAsCurrentUser=false; includeRecordDetails=true']);
  t.equal(res.status, 200, res.body.slice(0, 200));
  t.equal(lastUpstream().headers['sforce-duplicate-rule-header'], 'runAsCurrentUser=false', "the client's own sharing choice stays");
  const only = await send(path, ['authorization', `Bearer ${token}`, 'Sforce-Duplicate-Rule-Header', 'includeRecordDetails=true']);
  t.equal(only.status, 200);
  t.notOk(lastUpstream().headers['sforce-duplicate-rule-header'], 'nothing left: no header');
});

t.test('forwarding headers from an untrusted peer never reach the upstream', async (t) => {
  const res = await send(path, [
    'authorization', `Bearer ${token}`,
    'x-forwarded-for', '6.6.6.6',
    'X-Forwarded-Host', 'evil.example',
    'x-forwarded-proto', 'https',
    'forwarded', 'for=6.6.6.6;host=evil.example',
    'x-real-ip', '6.6.6.6',
    'x_forwarded_for', '6.6.6.7',
  ]);
  t.equal(res.status, 200, res.body.slice(0, 200));
  const up = lastUpstream().headers;
  t.equal(up['x-forwarded-for'], '127.0.0.1', "the gateway's own x-forwarded-for: the peer");
  t.equal(up.forwarded, 'for=127.0.0.1', "the gateway's own forwarded");
  for (const name of ['x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x_forwarded_for']) t.notOk(up[name], `${name} not forwarded`);
  t.notOk(JSON.stringify(up).includes('6.6.6'), 'no client-claimed address anywhere upstream');
});

t.test('a trusted proxy names the client; spoofed hops to its left are ignored', async (t) => {
  const viaProxy = await send(path, ['authorization', `Bearer ${token}`, 'x-forwarded-for', '198.51.100.1, 203.0.113.9'], '127.0.0.2');
  t.equal(viaProxy.status, 200, viaProxy.body.slice(0, 200));
  t.equal(lastUpstream().headers['x-forwarded-for'], '203.0.113.9', 'the first untrusted hop from the right');
  t.equal(lastUpstream().headers.forwarded, 'for=203.0.113.9');
  const direct = await send(path, ['authorization', `Bearer ${token}`, 'x-forwarded-for', '203.0.113.9'], '127.0.0.1');
  t.equal(direct.status, 200);
  t.equal(lastUpstream().headers['x-forwarded-for'], '127.0.0.1', 'not believed from an untrusted peer');
});
