/**
 * RFC 8693 token exchange toward an upstream (`upstreams[].tokenExchange`), against the dev
 * issuer's token endpoint: the upstream receives a token exchanged for its audience, never the
 * caller's; the exchange is cached until shortly before expiry; a failed exchange refuses the
 * request (502 upstream.token_exchange_failed) and nothing reaches the upstream.
 */
import t from 'tap';
import { decodeJwt } from 'jose';
import { soql, startHarness } from './helpers/harness.ts';
import { DEMO_IDS } from '../../gateway/demo/crm-data.ts';

const EXCHANGE = { clientId: 'crm-gateway-exchanger', clientSecret: 'exchanger-secret-0123456789' };
const AUDIENCE = 'urn:crm-upstream:salesforce';
let devIssuer = '';
const h = await startHarness({
  devTokenExchange: EXCHANGE,
  config: (raw) => {
    const ups = raw.upstreams as Record<string, unknown>[];
    const crm = ups[0]!;
    devIssuer = (raw.issuers as { issuer: string }[])[1]!.issuer;
    ups.push(
      { name: 'crm-exchanged', url: crm.url, prefix: '/xsf', adapter: 'salesforce', tokenExchange: { issuer: devIssuer, ...EXCHANGE, audience: AUDIENCE, scope: 'crm.read' } },
      { name: 'crm-badsecret', url: crm.url, prefix: '/bsf', adapter: 'salesforce', tokenExchange: { issuer: devIssuer, clientId: EXCHANGE.clientId, clientSecret: 'wrong-secret', audience: AUDIENCE } },
    );
  },
});
t.teardown(() => h.close());

const contacts = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5').slice('/sf'.length);
const userToken = (extra: Record<string, unknown> = {}) =>
  h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme', regions: ['EU'], roles: ['sales'], clearance: 'internal', scope: 'crm.read crm.write', ...extra });

t.test('the upstream gets the exchanged token with its audience, never the caller\'s; cached', async (t) => {
  const token = await userToken();
  const before = h.dev.stats().tokenExchange;
  const res = await h.call(`/xsf${contacts}`, { token });
  t.equal(res.status, 200);
  await res.arrayBuffer();
  t.equal(h.dev.stats().tokenExchange, before + 1, 'one exchange');
  const fwd = h.crm.requests.at(-1)!;
  const auth = String(fwd.headers.authorization ?? '');
  t.match(auth, /^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a bearer token is forwarded');
  const exchanged = auth.slice('Bearer '.length);
  t.not(exchanged, token, 'not the caller token');
  t.notOk(JSON.stringify(fwd.headers).includes(token), 'the caller token appears in no forwarded header');
  const claims = decodeJwt(exchanged);
  t.match(claims, { aud: AUDIENCE, sub: 'u-eu-rep', scope: 'crm.read', act: { sub: EXCHANGE.clientId }, iss: devIssuer });

  const again = await h.call(`/xsf${contacts}`, { token });
  t.equal(again.status, 200);
  await again.arrayBuffer();
  t.equal(h.dev.stats().tokenExchange, before + 1, 'the second request reuses the exchanged token');
  t.equal(h.crm.requests.at(-1)!.headers.authorization, auth, 'the same exchanged token');

  const other = await userToken({ jti: 'another' });
  const third = await h.call(`/xsf${contacts}`, { token: other });
  t.equal(third.status, 200);
  await third.arrayBuffer();
  t.equal(h.dev.stats().tokenExchange, before + 2, 'another caller token: another exchange');

  // Without tokenExchange the behaviour is unchanged: no Authorization upstream.
  const plain = await h.call(`/sf${contacts}`, { token });
  t.equal(plain.status, 200);
  await plain.arrayBuffer();
  t.equal(h.crm.requests.at(-1)!.headers.authorization, undefined, 'an upstream without tokenExchange gets no Authorization');
});

t.test('an update: the record read before the decision and the write both carry the exchanged token', async (t) => {
  const bot = await h.dev.signAccessToken({ sub: 'quote-bot', client_id: 'quote-bot', tenant: 'acme', regions: ['EU', 'US'], clearance: 'internal', scope: 'crm.read crm.write' });
  const n = h.crm.requests.length;
  const res = await h.call(`/xsf/services/data/v60.0/sobjects/Quote/${DEMO_IDS.acmeEuQuote}`, { method: 'PATCH', token: bot, body: { Discount: 10 } });
  t.equal(res.status, 204);
  const [read, write] = h.crm.requests.slice(n);
  t.equal(read?.method, 'GET', 'the current record was read first');
  t.equal(write?.method, 'PATCH');
  const auth = String(read?.headers.authorization ?? '');
  t.match(decodeJwt(auth.slice('Bearer '.length)), { aud: AUDIENCE, sub: 'quote-bot' }, 'the read carries the exchanged token');
  t.equal(write?.headers.authorization, auth, 'the write carries the same one');
  t.notOk(JSON.stringify([read?.headers, write?.headers]).includes(bot), 'never the caller token');
});

t.test('a failed exchange fails closed: 502 upstream.token_exchange_failed, nothing forwarded, logged', async (t) => {
  const token = await userToken({ jti: 'fail-1' });
  const n = h.crm.requests.length;
  const res = await h.call(`/bsf${contacts}`, { token });
  t.equal(res.status, 502);
  const body = (await res.json()) as { reason: string };
  t.equal(body.reason, 'upstream.token_exchange_failed', 'the issuer refused the client');
  t.equal(h.crm.requests.length, n, 'the upstream was not called');

  h.dev.setDown(true);
  t.teardown(() => h.dev.setDown(false));
  const down = await h.call(`/xsf${contacts}`, { token: await userToken({ jti: 'fail-2' }) });
  t.equal(down.status, 502);
  t.equal(((await down.json()) as { reason: string }).reason, 'upstream.token_exchange_failed', 'the token endpoint is down');
  t.equal(h.crm.requests.length, n, 'the upstream was not called');
  h.dev.setDown(false);

  const recs = await h.records();
  const refused = recs.filter((r) => r.kind === 'decision' && (r.reasons as { code?: string }[] | undefined)?.some((x) => x.code === 'upstream.token_exchange_failed'));
  t.equal(refused.length, 2, 'both refusals are in the decision log');
  t.notOk(JSON.stringify(recs).includes(token), 'the caller token is nowhere in the log');
});
