/**
 * Opaque tokens by RFC 7662 introspection, against the real oidc-provider on loopback: the
 * gateway authenticates to its introspection endpoint with client_secret_basic (the secret from
 * an environment variable), caches results by token hash (counted at the IdP), refuses inactive
 * and revoked tokens, fails closed with 503 during an outage and recovers without a restart; and
 * `issuers[].tenants` keeps an IdP from minting tokens for another tenant.
 */
import t from 'tap';
import { INTROSPECTOR, soql, startHarness, type Harness } from './helpers/harness.ts';

const SECRET_ENV = 'IT_GATEWAY_INTROSPECTION_SECRET';
process.env[SECRET_ENV] = INTROSPECTOR.clientSecret;

// A controllable clock: cache lifetimes and the outage hold are checked without sleeping.
let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);

const h: Harness = await startHarness({
  now,
  config: (raw) => {
    const issuers = raw.issuers as Record<string, unknown>[];
    issuers[0]!.introspection = { clientId: INTROSPECTOR.clientId, clientSecretEnv: SECRET_ENV };
    issuers[0]!.tenants = ['acme'];
    issuers[1]!.tenants = ['acme']; // the dev issuer: its globex persona is refused
  },
});
t.teardown(() => h.close());

const path = soql('SELECT Id, Name, Tenant__c, Region__c FROM Opportunity LIMIT 5');
const problem = async (res: Response) => (await res.json()) as { reason: string; status: number };
const introspections = () => h.idp.stats().introspection;

t.test('an active opaque token is introspected once, then served from the cache', async (t) => {
  const token = await h.idp.token('opaque-bot');
  t.notOk(token.includes('.'), 'oidc-provider issued an opaque token');
  const before = introspections();
  const upstreamBefore = h.crm.requests.length;
  const first = await h.call(path, { token });
  t.equal(first.status, 200, await first.clone().text());
  t.equal(introspections() - before, 1, 'one introspection request');
  for (let i = 0; i < 5; i++) t.equal((await h.call(path, { token })).status, 200);
  t.equal(introspections() - before, 1, 'five more requests, no more introspection');
  t.equal(h.crm.requests.length - upstreamBefore, 6, 'all forwarded');
  const forwarded = h.crm.requests.at(-1)!;
  t.equal(forwarded.headers['x-gateway-subject'], 'opaque-bot', 'client-credentials token: sub is the client_id');
  t.equal(forwarded.headers['x-gateway-tenant'], 'acme');
  t.equal(forwarded.headers['x-gateway-client-id'], 'opaque-bot');
  const records = await h.records();
  const rec = records.filter((r) => r.kind === 'decision').at(-1) as { input: { subject: Record<string, unknown> } };
  t.same(rec.input.subject.kind, 'automation', 'an automation principal');
  t.notOk(JSON.stringify(records).includes(token), 'the token is in no record');

  const ready = (await (await fetch(`${h.gw.url}/readyz`)).json()) as { issuers: { issuer: string; introspection?: { ok: number } }[] };
  t.ok((ready.issuers.find((i) => i.issuer === h.idp.issuer)?.introspection?.ok ?? 0) >= 1, '/readyz counts introspections');
});

t.test('concurrent requests with one new token share one introspection request', async (t) => {
  const token = await h.idp.token('opaque-bot');
  const before = introspections();
  const answers = await Promise.all(Array.from({ length: 20 }, () => h.call(path, { token })));
  t.ok(answers.every((a) => a.status === 200));
  t.equal(introspections() - before, 1);
});

t.test('JWTs of the same issuer are still verified locally', async (t) => {
  const before = introspections();
  const res = await h.call(path, { token: await h.idp.token('quote-bot') });
  t.equal(res.status, 200);
  t.equal(introspections() - before, 0, 'no introspection for a JWS');
});

t.test('unknown and revoked tokens: 401 auth.token_inactive, cached briefly', async (t) => {
  const upstreamBefore = h.crm.requests.length;
  const unknown = 'x'.repeat(43);
  let before = introspections();
  const res = await h.call(path, { token: unknown });
  t.equal(res.status, 401);
  t.match(res.headers.get('www-authenticate'), 'error="invalid_token", error_description="auth.token_inactive"');
  t.equal((await problem(res)).reason, 'auth.token_inactive');
  t.equal((await h.call(path, { token: unknown })).status, 401);
  t.equal(introspections() - before, 1, 'the inactive result is cached');
  offsetMs += 10_001; // timeouts.inactiveCacheMs (10 s) later
  t.equal((await h.call(path, { token: unknown })).status, 401);
  t.equal(introspections() - before, 2, 'asked again after inactiveCacheMs');

  const revoked = await h.idp.token('opaque-bot');
  await h.idp.revoke('opaque-bot', revoked);
  before = introspections();
  const r2 = await h.call(path, { token: revoked });
  t.equal(r2.status, 401);
  t.equal((await problem(r2)).reason, 'auth.token_inactive', 'a revoked token is inactive');

  // Revoked after it was cached: honoured until timeouts.introspectionCacheMs (60 s) at most.
  const later = await h.idp.token('opaque-bot');
  t.equal((await h.call(path, { token: later })).status, 200);
  await h.idp.revoke('opaque-bot', later);
  t.equal((await h.call(path, { token: later })).status, 200, 'still cached');
  offsetMs += 60_001;
  const r3 = await h.call(path, { token: later });
  t.equal(r3.status, 401, 'refused once the cache entry expired');
  t.equal((await problem(r3)).reason, 'auth.token_inactive');
  t.equal(h.crm.requests.length - upstreamBefore, 2, 'only the two accepted requests were forwarded');
});

t.test('issuer → tenant mapping: 401 auth.tenant_not_allowed', async (t) => {
  const upstreamBefore = h.crm.requests.length;
  const opaque = await h.call(path, { token: await h.idp.token('globex-bot') });
  t.equal(opaque.status, 401);
  t.equal((await problem(opaque)).reason, 'auth.tenant_not_allowed', 'opaque token of another tenant');
  const globex = await h.tokens('globex-user');
  const jwt = await h.call(soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5'), { token: globex.accessToken });
  t.equal(jwt.status, 401);
  t.equal((await problem(jwt)).reason, 'auth.tenant_not_allowed', 'JWT of another tenant');
  const acme = await h.tokens('eu-rep');
  t.equal((await h.call(soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5'), { token: acme.accessToken })).status, 200, 'a listed tenant passes');
  t.equal(h.crm.requests.length - upstreamBefore, 1);
});

t.test('introspection outage: 503 auth.introspection_unavailable, cached tokens keep working, recovery', async (t) => {
  const cached = await h.idp.token('opaque-bot');
  t.equal((await h.call(path, { token: cached })).status, 200);
  const fresh = await h.idp.token('opaque-bot');
  const upstreamBefore = h.crm.requests.length;
  h.idp.setDown(true);
  try {
    const before = introspections();
    const res = await h.call(path, { token: fresh });
    t.equal(res.status, 503);
    t.equal(res.headers.get('retry-after'), '1');
    t.equal((await problem(res)).reason, 'auth.introspection_unavailable');
    t.equal(introspections() - before, 1);
    const held = await Promise.all(Array.from({ length: 10 }, (_, i) => h.call(path, { token: `${'y'.repeat(40)}${i}` })));
    t.ok(held.every((a) => a.status === 503), 'uncached tokens during the hold: 503');
    t.equal(introspections() - before, 1, 'the hold spares the IdP');
    t.equal((await h.call(path, { token: cached })).status, 200, 'a cached active token still works');
  } finally {
    h.idp.setDown(false);
  }
  t.equal(h.crm.requests.length - upstreamBefore, 1, 'only the cached token was forwarded');
  offsetMs += 1_001; // past the hold
  t.equal((await h.call(path, { token: fresh })).status, 200, 'recovered without a restart');
  const metrics = await (await fetch(`${h.gw.url}/metrics`)).text();
  t.match(metrics, /gateway_refusals_total\{reason="auth.introspection_unavailable"\} 11\n/);
  t.match(metrics, new RegExp(`gateway_introspection_requests_total\\{issuer="${h.idp.issuer}",result="failed"\\} 1\\n`));
});
