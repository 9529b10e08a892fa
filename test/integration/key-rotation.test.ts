/**
 * Key rotation and IdP outages against the real gateway: the dev issuer rotates and retires keys
 * (verified-token cache included); the real oidc-provider rotates, goes down past the maximum key
 * staleness and comes back, all without restarting the gateway.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import { startHarness, soql, type Harness } from './helpers/harness.ts';

const COOLDOWN_MS = 300;
const STALENESS_MS = 2000;

const h: Harness = await startHarness({
  issuerOptions: { jwksCooldownMs: COOLDOWN_MS },
  config: (raw) => {
    // the oidc-provider issuer (first) trusts its keys for 2 s without a successful fetch
    (raw.issuers as Record<string, unknown>[])[0]!.maxKeyStalenessMs = STALENESS_MS;
  },
});
t.teardown(() => h.close());

const contacts = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');
const opportunities = soql('SELECT Id, Name, Tenant__c, Region__c FROM Opportunity LIMIT 5');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const userToken = () => h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme', regions: ['EU'], roles: ['sales'], clearance: 'internal' });
const answer = async (path: string, token: string) => {
  const res = await h.call(path, { token });
  const body = (await res.json()) as { reason?: string };
  return { status: res.status, reason: body.reason, retryAfter: res.headers.get('retry-after') };
};
const ready = async () => {
  const res = await fetch(`${h.gw.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { issuers: { issuer: string; ready: boolean; lastError?: string; keys?: { kids: string[]; stale: boolean } }[] } };
};

t.test('dev issuer: a new key is accepted after one refetch; a retired key stops verifying, from cache too', async (t) => {
  const [original] = h.dev.publishedKids();
  const before = await userToken();
  t.equal((await answer(contacts, before)).status, 200, 'original key verifies (and the principal is cached)');
  const fetches = h.dev.stats().jwks;

  const rotated = await h.dev.rotate();
  const after = await userToken();
  await pause(COOLDOWN_MS + 50); // past the cooldown since the gateway's last fetch (at start)
  t.equal((await answer(contacts, after)).status, 200, 'new kid accepted');
  t.equal(h.dev.stats().jwks - fetches, 1, 'after exactly one refetch');
  t.equal((await answer(contacts, before)).status, 200, 'the original key is still published: its token still works');

  h.dev.retire(original!);
  await pause(COOLDOWN_MS + 50);
  t.equal((await answer(contacts, before)).status, 200, 'until the next refetch, the cached verification stands');
  // an unknown kid causes the next refetch; the retired key is gone from the set after it
  const probe = await h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme' }, { kid: `no-such-${randomUUID()}` });
  t.match(await answer(contacts, probe), { status: 401, reason: 'auth.key_unknown' });
  t.equal(h.dev.stats().jwks - fetches, 2, 'one more refetch');
  t.match(await answer(contacts, before), { status: 401, reason: 'auth.key_unknown' }, 'the cached token of the retired key is refused');
  t.equal((await answer(contacts, after)).status, 200, 'the new key keeps working');
  const status = (await ready()).body.issuers.find((i) => i.issuer === h.dev.issuer);
  t.same(status?.keys?.kids, [rotated], '/readyz lists the published kids');
});

t.test('dev issuer outage: known keys keep working, unknown kid → 503 with Retry-After, recovery', async (t) => {
  const known = await userToken();
  h.dev.setDown(true);
  t.teardown(() => h.dev.setDown(false));
  await pause(COOLDOWN_MS + 50);
  t.equal((await answer(contacts, await userToken())).status, 200, 'a fresh token with a known key verifies during the outage');
  const unknown = await h.dev.signAccessToken({ sub: 'u-eu-rep', tenant: 'acme' }, { kid: `rotated-${randomUUID()}` });
  const r = await answer(contacts, unknown);
  t.match(r, { status: 503, reason: 'auth.keys_unavailable' }, 'unknown kid while the IdP is down: 503, not 401');
  t.match(r.retryAfter, /^[1-9][0-9]*$/, 'with Retry-After');
  t.equal((await answer(contacts, known)).status, 200, 'known key still fine');
  h.dev.setDown(false);
  await pause(COOLDOWN_MS + 50);
  t.match(await answer(contacts, unknown), { status: 401, reason: 'auth.key_unknown' }, 'once the IdP answers again, the unknown kid is simply unknown');
});

t.test('oidc-provider: rotation, an outage past the maximum staleness, recovery, removal', async (t) => {
  const idpToken = await h.idp.token('quote-bot');
  t.equal((await answer(opportunities, idpToken)).status, 200, 'first key');
  const fetches = h.idp.stats().jwks;
  await h.idp.rotate();
  const rotatedToken = await h.idp.token('quote-bot');
  // The gateway fetched this issuer's keys moments ago (at start, or for the token above): an
  // unknown kid triggers a refetch only once the cooldown since that fetch has passed.
  await pause(COOLDOWN_MS + 50);
  t.not(rotatedToken.split('.')[0], idpToken.split('.')[0], 'signed under the new kid');
  t.equal((await answer(opportunities, rotatedToken)).status, 200, 'new key accepted');
  t.equal(h.idp.stats().jwks - fetches, 1, 'after one refetch');
  const lastSuccess = Date.now();

  h.idp.setDown(true);
  t.teardown(() => h.idp.setDown(false));
  await pause(COOLDOWN_MS + 50);
  const { privateKey } = await generateKeyPair('ES256');
  const unknownKid = await new SignJWT({ sub: 'quote-bot', tenant: 'acme' }).setProtectedHeader({ alg: 'ES256', kid: 'idp-es256-99' }).setIssuer(h.idp.issuer).setAudience('crm-gateway').setExpirationTime('5m').sign(privateKey);
  const down = await answer(opportunities, unknownKid);
  t.match(down, { status: 503, reason: 'auth.keys_unavailable' }, 'unknown kid during the outage');
  t.match(down.retryAfter, /^[1-9][0-9]*$/);
  t.equal((await answer(opportunities, rotatedToken)).status, 200, 'known key during the outage');

  await pause(Math.max(0, lastSuccess + STALENESS_MS + 100 - Date.now()));
  const stale = await answer(opportunities, rotatedToken);
  t.match(stale, { status: 503, reason: 'auth.keys_unavailable' }, 'past the maximum staleness, even a known (cached) key is refused');
  t.match(stale.retryAfter, /^[1-9][0-9]*$/);
  const r1 = await ready();
  t.equal(r1.status, 503, '/readyz is unready');
  t.match(r1.body.issuers.find((i) => i.issuer === h.idp.issuer), { ready: false, lastError: /HTTP 503/, keys: { stale: true } });

  h.idp.setDown(false);
  await pause(COOLDOWN_MS + 50);
  t.equal((await answer(opportunities, rotatedToken)).status, 200, 'recovered without a restart');
  t.equal((await ready()).status, 200, '/readyz ready again');

  // the key that signed the first token is removed at the IdP
  await h.idp.rotate({ keepPrevious: false });
  const third = await h.idp.token('quote-bot');
  await pause(COOLDOWN_MS + 50);
  t.equal((await answer(opportunities, third)).status, 200, 'the newest key, after a refetch');
  t.match(await answer(opportunities, idpToken), { status: 401, reason: 'auth.key_unknown' }, 'removed key refused (it was cached)');
  t.match(await answer(opportunities, rotatedToken), { status: 401, reason: 'auth.key_unknown' }, 'so is the second key');
});
