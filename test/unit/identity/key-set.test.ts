/**
 * The key-set manager with an in-memory IdP (injected fetch) and a frozen clock: caching, the
 * unknown-kid refetch budget, rotation, outage with staleness, recovery, and bad key sets.
 */
import t from 'tap';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createKeySet, type KeySetOptions } from '../../../gateway/identity/key-set.ts';

const jwkOf = async (kid: string): Promise<JWK> => ({ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid, alg: 'ES256', use: 'sig' });
const [k1, k2, k3] = await Promise.all([jwkOf('k1'), jwkOf('k2'), jwkOf('k3')]);

/** An IdP whose key set, availability and raw answer can be changed; counts fetches. */
function fakeIdp(keys: JWK[]) {
  const idp = {
    keys,
    down: false,
    body: undefined as string | undefined,
    status: 200,
    fetches: 0,
    fetch: async (): Promise<Response> => {
      idp.fetches++;
      await new Promise((r) => setImmediate(r)); // a real await, so concurrent callers overlap
      if (idp.down) throw new TypeError('fetch failed');
      return new Response(idp.body ?? JSON.stringify({ keys: idp.keys }), { status: idp.status, headers: { 'content-type': 'application/json' } });
    },
  };
  return idp;
}

function setup(keys: JWK[], o: Partial<KeySetOptions> = {}) {
  const idp = fakeIdp(keys);
  const clock = { ms: 1_000_000 };
  const ks = createKeySet({
    jwksUri: 'https://idp.test/jwks',
    timeoutMs: 1000,
    refreshMs: 600_000,
    cooldownMs: 30_000,
    maxStalenessMs: 3_600_000,
    fetch: idp.fetch,
    now: () => clock.ms,
    ...o,
  });
  t.teardown(() => ks.stop());
  return { idp, clock, ks };
}

t.test('keys are cached: known kids cost no fetch', async (t) => {
  const { idp, ks } = setup([k1, k2]);
  t.equal(await ks.start(), true);
  for (let i = 0; i < 20; i++) {
    const s = await ks.select({ alg: 'ES256', kid: i % 2 ? 'k1' : 'k2' });
    t.equal(s.ok, true);
  }
  t.equal(idp.fetches, 1, 'only the first fetch');
  t.equal(ks.ready(), true);
  t.match(ks.status(), { ready: true, kids: ['k1', 'k2'], generation: 1, fetches: { ok: 1, failed: 0, onDemand: 0 }, stale: false });
});

t.test('a flood of unknown kids: one shared refetch per cooldown', async (t) => {
  const { idp, clock, ks } = setup([k1]);
  await ks.start();
  const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => ks.select({ alg: 'ES256', kid: `random-${i}` })));
  t.ok(flood.every((s) => !s.ok && s.why === 'unknown'), 'all unknown (401, not 503: the IdP answered)');
  t.equal(idp.fetches, 2, 'one refetch for 200 distinct unknown kids');
  clock.ms += 29_000;
  await Promise.all(Array.from({ length: 50 }, (_, i) => ks.select({ alg: 'ES256', kid: `again-${i}` })));
  t.equal(idp.fetches, 2, 'none within the cooldown');
  clock.ms += 1_000;
  await Promise.all(Array.from({ length: 50 }, (_, i) => ks.select({ alg: 'ES256', kid: `later-${i}` })));
  t.equal(idp.fetches, 3, 'one more once the cooldown has passed');
  t.equal(ks.status().fetches.onDemand, 2);
});

t.test('rotation: an added key after one refetch; a removed key after the next', async (t) => {
  const { idp, clock, ks } = setup([k1]);
  await ks.start();
  const first = await ks.select({ alg: 'ES256', kid: 'k1' });
  if (!first.ok) throw new Error('k1 must verify');
  t.equal(ks.holds(first.ref), true);
  idp.keys = [k2, k1];
  const added = await ks.select({ alg: 'ES256', kid: 'k2' });
  t.equal(added.ok, true, 'k2 accepted after one refetch');
  t.equal(idp.fetches, 2);
  t.equal(ks.status().generation, 2, 'a new generation');
  t.equal(ks.holds(first.ref), true, 'k1 still published: cached verifications stay');
  t.equal(first.ref.generation, 2, 'the ref moved to the new generation (fast path next time)');
  idp.keys = [k2];
  clock.ms += 30_000;
  t.equal(await ks.refresh(), true);
  t.equal(ks.holds(first.ref), false, 'k1 removed: cached verifications by k1 are dropped');
  const removed = await ks.select({ alg: 'ES256', kid: 'k1' });
  t.strictSame(removed, { ok: false, why: 'unknown' }, 'k1 no longer verifies');
  t.equal(idp.fetches, 4, 'the removed kid triggered one refetch (the cooldown had passed)');
});

t.test('outage: known keys until maxStaleness, unknown kid → unavailable, recovery without restart', async (t) => {
  const { idp, clock, ks } = setup([k1], { maxStalenessMs: 60_000, cooldownMs: 10_000 });
  await ks.start();
  const k1ref = await ks.select({ alg: 'ES256', kid: 'k1' });
  if (!k1ref.ok) throw new Error('k1 must verify');
  idp.down = true;
  clock.ms += 10_000;
  const unknown = await ks.select({ alg: 'ES256', kid: 'k9' });
  t.match(unknown, { ok: false, why: 'unavailable', retryAfterSeconds: 10 }, 'unknown kid during the outage: 503, retry after the cooldown');
  t.match((unknown as { detail: string }).detail, /cannot be fetched \(fetch failed\)/);
  t.equal(idp.fetches, 2);
  t.equal((await ks.select({ alg: 'ES256', kid: 'k1' })).ok, true, 'a known key keeps verifying');
  t.equal(ks.holds(k1ref.ref), true);
  clock.ms += 50_001; // 60.001 s after the last success
  t.equal(ks.holds(k1ref.ref), false, 'stale: cached verifications are not honoured either');
  t.equal(ks.ready(), false);
  const stale = await ks.select({ alg: 'ES256', kid: 'k1' });
  t.match(stale, { ok: false, why: 'unavailable', detail: 'issuer keys are stale: last fetched 60 s ago (maximum 60 s)' });
  t.equal(idp.fetches, 3, 'stale keys try one refetch (cooldown allowing)');
  await ks.select({ alg: 'ES256', kid: 'k1' });
  t.equal(idp.fetches, 3, 'and no more within the cooldown');
  idp.down = false;
  clock.ms += 10_000;
  t.equal((await ks.select({ alg: 'ES256', kid: 'k1' })).ok, true, 'recovered on the next request after the cooldown');
  t.equal(ks.ready(), true);
  t.equal(ks.status().lastError, undefined);
});

t.test('unusable answers never drop the known keys', async (t) => {
  const { idp, ks } = setup([k1]);
  await ks.start();
  const bad: [string, () => void, RegExp][] = [
    ['HTTP 500', () => { idp.status = 500; }, /answered HTTP 500/],
    ['not JSON', () => { idp.body = '<html>'; }, /not usable JSON/],
    ['duplicate keys', () => { idp.body = '{"keys":[],"keys":[]}'; }, /duplicate key "keys"/],
    ['no keys array', () => { idp.body = '{"keys":{}}'; }, /no "keys" array/],
    ['too large', () => { idp.body = JSON.stringify({ keys: [], pad: 'x'.repeat(1_100_000) }); }, /larger than 1048576 bytes/],
  ];
  for (const [name, breakIt, msg] of bad) {
    idp.status = 200;
    idp.body = undefined;
    breakIt();
    t.equal(await ks.refresh(), false, name);
    t.match(ks.status().lastError, msg, `${name}: lastError`);
    t.equal((await ks.select({ alg: 'ES256', kid: 'k1' })).ok, true, `${name}: k1 still verifies`);
  }
});

t.test('private, symmetric and ambiguous keys', async (t) => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const priv = { ...(await exportJWK(privateKey)), kid: 'priv', alg: 'ES256' };
  const { ks } = setup([k1, priv, { kty: 'oct', k: 'c2VjcmV0', kid: 'hs', alg: 'HS256' }, { ...k3, kid: 'dup' }, { ...k2, kid: 'dup' }]);
  await ks.start();
  t.same(ks.status().kids, ['k1', 'dup', 'dup'], 'private and symmetric members are never verification keys');
  t.strictSame(await ks.select({ alg: 'ES256', kid: 'dup' }), { ok: false, why: 'ambiguous' });
  t.strictSame(await ks.select({ alg: 'HS256', kid: 'hs' }), { ok: false, why: 'unknown' }, 'HS256 never finds a key');
  t.strictSame(await ks.select({ alg: 'RS256', kid: 'k1' }), { ok: false, why: 'unknown' }, 'an EC key is not an RS256 key');
});

t.test('periodic refresh, and background retries with backoff after failures', async (t) => {
  const idp = fakeIdp([k1]);
  const ks = createKeySet({ jwksUri: 'https://idp.test/jwks', timeoutMs: 1000, refreshMs: 30, cooldownMs: 30_000, maxStalenessMs: 3_600_000, fetch: idp.fetch });
  t.teardown(() => ks.stop());
  await ks.start();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(idp.fetches >= 3, `refetched periodically (${idp.fetches} fetches)`);
  idp.keys = [k2];
  await new Promise((r) => setTimeout(r, 60));
  t.same(ks.status().kids, ['k2'], 'a rotation is picked up without any token asking');
  ks.stop();
  const n = idp.fetches;
  await new Promise((r) => setTimeout(r, 60));
  t.equal(idp.fetches, n, 'stop ends the refresh');

  const down = fakeIdp([k1]);
  down.down = true;
  const ks2 = createKeySet({ jwksUri: 'https://idp.test/jwks', timeoutMs: 1000, refreshMs: 600_000, cooldownMs: 30_000, maxStalenessMs: 3_600_000, fetch: down.fetch });
  t.teardown(() => ks2.stop());
  t.equal(await ks2.start(), false, 'the first fetch fails');
  t.equal(ks2.ready(), false);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(down.fetches, 1, 'no retry storm: the first retry waits 0.5 s');
  down.down = false;
  await new Promise((r) => setTimeout(r, 450));
  t.equal(down.fetches, 2, 'retried once');
  t.equal(ks2.ready(), true, 'recovered in the background');
});

t.test('seed: keys from a cache file verify until maxStaleness after they were written; a fetch replaces them', async (t) => {
  const { idp, clock, ks } = setup([k2]);
  idp.down = true;
  t.equal(await ks.seed({ keys: [k1] }, clock.ms - 1000), true);
  t.match(ks.status(), { ready: true, kids: ['k1'], seeded: true });
  t.match(await ks.select({ alg: 'ES256', kid: 'k1' }), { ok: true }, 'a seeded key verifies');
  t.match(await ks.select({ alg: 'ES256', kid: 'k9' }), { ok: false, why: 'unavailable' }, 'unknown kid while the IdP is down: unavailable');
  t.strictSame(ks.jwks().keys.map((k) => k.kid), ['k1']);
  clock.ms += 3_600_000;
  t.equal(ks.ready(), false, 'stale maxStalenessMs after the seed time, not after the load');
  idp.down = false;
  t.equal(await ks.refresh(), true);
  t.match(ks.status(), { ready: true, kids: ['k2'] });
  t.equal(ks.status().seeded, undefined, 'fetched keys replaced the seeded ones');
  t.equal(await ks.seed({ keys: [k1] }, clock.ms), false, 'a seed after a successful fetch is ignored');
  t.equal(await setup([]).ks.seed({ keys: [k1] }, Number.NaN), false, 'an invalid time is refused');
  t.equal(await setup([]).ks.seed({ keys: [] }, clock.ms), false, 'no usable key');
  t.equal(await setup([]).ks.seed({ nokeys: 1 }, clock.ms), false);
});

t.test('onFetched gets the published public keys after each successful fetch; holds is false once stopped', async (t) => {
  const seen: string[][] = [];
  const { ks } = setup([k1, k2], { onFetched: (j) => seen.push(j.keys.map((k) => k.kid!)) });
  await ks.start();
  const sel = await ks.select({ alg: 'ES256', kid: 'k1' });
  t.strictSame(seen, [['k1', 'k2']]);
  t.ok(sel.ok && ks.holds(sel.ref));
  ks.stop();
  t.ok(sel.ok && !ks.holds(sel.ref), 'a stopped (replaced) key set holds nothing');
});
