import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createPostureVerifier, postureAt } from '../../../gateway/identity/posture.ts';
import type { DeviceTrustConfig } from '../../../gateway/config/load.ts';

type KeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const DT = 'https://device-trust.example.test';
const now = () => Math.floor(Date.now() / 1000);
const trusted = await generateKeyPair('ES256');
const stranger = await generateKeyPair('ES256');
const rsa = await generateKeyPair('RS256');

const cfg: DeviceTrustConfig = {
  issuer: DT,
  jwks: { keys: [{ ...(await exportJWK(trusted.publicKey)), kid: 'dt-1', alg: 'ES256' }, { ...(await exportJWK(rsa.publicKey)), kid: 'dt-rsa', alg: 'RS256' }] },
  algorithms: ['ES256'],
  header: 'x-device-posture-assertion',
  maxAgeSeconds: 900,
};
const verify = createPostureVerifier(cfg);

type O = { typ?: string | null; key?: KeyLike; kid?: string; alg?: string };
async function assertion(claims: Record<string, unknown>, o: O = {}): Promise<string> {
  const header: Record<string, unknown> = { alg: o.alg ?? 'ES256', kid: o.kid ?? 'dt-1' };
  if (o.typ !== null) header.typ = o.typ ?? 'posture+jwt';
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(o.key ?? trusted.privateKey);
}
const fresh = (extra: Record<string, unknown> = {}) => ({ iss: DT, sub: 'u-eu-rep', iat: now(), exp: now() + 600, managed: true, compliant: true, platform: 'macos', ...extra });

t.test('a valid assertion gives managed, compliant and platform', async (t) => {
  const iat = now() - 100;
  // expires at exp, or at iat + maxAgeSeconds when that comes first
  t.strictSame(await verify(await assertion(fresh({ iat, exp: iat + 600 })), 'u-eu-rep'), {
    posture: { managed: true, compliant: true, platform: 'macos' },
    note: 'verified',
    expiresAtMs: (iat + 600) * 1000,
    issuedAtMs: iat * 1000,
  });
  t.strictSame(await verify(await assertion(fresh({ iat, exp: iat + 3600, managed: false, compliant: false, platform: 'linux' })), 'u-eu-rep'), {
    posture: { managed: false, compliant: false, platform: 'linux' },
    note: 'verified',
    expiresAtMs: (iat + 900) * 1000,
    issuedAtMs: iat * 1000,
  });
  t.strictSame(await verify(await assertion(fresh({ iat, exp: iat + 600 }), { typ: 'application/posture+jwt' }), 'u-eu-rep'), {
    posture: { managed: true, compliant: true, platform: 'macos' },
    note: 'verified',
    expiresAtMs: (iat + 600) * 1000,
    issuedAtMs: iat * 1000,
  }, 'typ with the application/ prefix (RFC 8725 §3.11)');
});

t.test('refused assertions give unknown with the reason', async (t) => {
  const cases: [string, Promise<string> | string, string, string][] = [
    ['another subject', assertion(fresh()), 'u-someone-else', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (sub)'],
    ['expired', assertion(fresh({ iat: now() - 700, exp: now() - 100 })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_EXPIRED (exp)'],
    ['too old (iat beyond maxAgeSeconds)', assertion(fresh({ iat: now() - 901, exp: now() + 3600 })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_EXPIRED (iat)'],
    ['iat in the future', assertion(fresh({ iat: now() + 600 })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (iat)'],
    ['wrong typ', assertion(fresh(), { typ: 'JWT' }), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (typ)'],
    ['no typ', assertion(fresh(), { typ: null }), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (typ)'],
    ['access-token typ', assertion(fresh(), { typ: 'at+jwt' }), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (typ)'],
    ['wrong issuer', assertion(fresh({ iss: 'https://evil.example' })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (iss)'],
    ['signed by another key', assertion(fresh(), { key: stranger.privateKey }), 'u-eu-rep', 'posture assertion refused: ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
    ['unknown kid', assertion(fresh(), { kid: 'dt-2' }), 'u-eu-rep', 'posture assertion refused: ERR_JWKS_NO_MATCHING_KEY'],
    ['algorithm not configured (RS256 key in the set)', assertion(fresh(), { alg: 'RS256', kid: 'dt-rsa', key: rsa.privateKey }), 'u-eu-rep', 'posture assertion refused: ERR_JOSE_ALG_NOT_ALLOWED'],
    ['no exp', assertion(fresh({ exp: undefined })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (exp)'],
    ['no iat', assertion(fresh({ iat: undefined })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (iat)'],
    ['no sub', assertion(fresh({ sub: undefined })), 'u-eu-rep', 'posture assertion refused: ERR_JWT_CLAIM_VALIDATION_FAILED (sub)'],
    ['not a JWS', 'not-a-jws', 'u-eu-rep', 'posture assertion refused: ERR_JWS_INVALID'],
    ['missing managed', assertion(fresh({ managed: undefined })), 'u-eu-rep', 'posture assertion lacks managed/compliant/platform'],
    ['managed as a string', assertion(fresh({ managed: 'true' })), 'u-eu-rep', 'posture assertion lacks managed/compliant/platform'],
    ['missing compliant', assertion(fresh({ compliant: undefined })), 'u-eu-rep', 'posture assertion lacks managed/compliant/platform'],
    ['platform a number', assertion(fresh({ platform: 1 })), 'u-eu-rep', 'posture assertion lacks managed/compliant/platform'],
    ['absent', '', 'u-eu-rep', 'no posture assertion'],
    ['too long', 'a'.repeat(8193), 'u-eu-rep', 'posture assertion too long'],
  ];
  for (const [name, a, subject, note] of cases) t.strictSame(await verify(await a, subject), { posture: 'unknown', note }, name);
  t.strictSame(await verify(undefined, 'u-eu-rep'), { posture: 'unknown', note: 'no posture assertion' }, 'undefined');
});

t.test('no deviceTrust configuration: always unknown', async (t) => {
  const none = createPostureVerifier(undefined);
  t.strictSame(await none(await assertion(fresh()), 'u-eu-rep'), { posture: 'unknown', note: 'no device-trust issuer configured' });
  t.strictSame(await none(undefined, 'u-eu-rep'), { posture: 'unknown', note: 'no device-trust issuer configured' });
});

t.test('risk: the claim when low/medium/high, else absent; age_s computed at use from iat', async (t) => {
  const iat = now() - 100;
  for (const risk of ['low', 'medium', 'high']) {
    const r = await verify(await assertion(fresh({ iat, risk })), 'u-eu-rep');
    t.strictSame(r.posture, { managed: true, compliant: true, platform: 'macos', risk }, `risk ${risk}`);
  }
  for (const risk of ['LOW', 'critical', 3, null, ['low'], { level: 'low' }]) {
    const r = await verify(await assertion(fresh({ iat, risk })), 'u-eu-rep');
    t.strictSame(r.posture, { managed: true, compliant: true, platform: 'macos' }, `risk ${JSON.stringify(risk)} is left out`);
  }
  const r = await verify(await assertion(fresh({ iat, risk: 'medium' })), 'u-eu-rep');
  // The same (cached) result read at two moments: age_s follows the clock, the result is untouched.
  t.strictSame(postureAt(r, iat * 1000 + 100_400), { managed: true, compliant: true, platform: 'macos', risk: 'medium', age_s: 100 });
  t.strictSame(postureAt(r, iat * 1000 + 250_999), { managed: true, compliant: true, platform: 'macos', risk: 'medium', age_s: 250 });
  t.strictSame(postureAt(r, iat * 1000 - 2000), { managed: true, compliant: true, platform: 'macos', risk: 'medium', age_s: 0 }, 'never negative');
  t.equal('age_s' in (r.posture as object), false, 'the verified result holds no age_s');
  t.equal(postureAt({ posture: 'unknown', note: 'x' }, Date.now()), 'unknown');
});

t.test('jwksUri: keys fetched and rotated by the key-set manager; cooldown; removed key stops holding', async (t) => {
  const k2 = await generateKeyPair('ES256');
  let published = [{ ...(await exportJWK(trusted.publicKey)), kid: 'dt-1', alg: 'ES256' }];
  let fetches = 0;
  let down = false;
  let clock = Date.now();
  const fetchStub = async () => {
    fetches++;
    if (down) return new Response('{}', { status: 503 });
    return new Response(JSON.stringify({ keys: published }), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const { jwks: _inline, ...rest } = cfg;
  const byUrl = createPostureVerifier(
    { ...rest, jwksUri: 'https://device-trust.example.test/jwks', jwksCooldownMs: 10_000, maxKeyStalenessMs: 60_000 },
    { fetch: fetchStub, now: () => clock, timeouts: { discoveryMs: 1000, keysRefreshMs: 3_600_000 } },
  );
  t.teardown(() => byUrl.stop());
  const first = await byUrl(await assertion(fresh()), 'u-eu-rep');
  t.equal(first.note, 'verified');
  t.ok(first.key, 'the result names the verifying key');
  t.equal(byUrl.holds(first), true);
  t.equal(byUrl.status()?.kids.join(), 'dt-1');

  // A new key at the issuer: accepted after one refetch.
  published = [{ ...(await exportJWK(k2.publicKey)), kid: 'dt-2', alg: 'ES256' }, ...published];
  const before = fetches;
  const rotated = await byUrl(await assertion(fresh(), { kid: 'dt-2', key: k2.privateKey }), 'u-eu-rep');
  t.equal(rotated.note, 'verified', 'new kid verified after a refetch');
  t.equal(fetches, before + 1, 'one refetch');

  // Unknown kids within the cooldown: no further fetch, whatever their number.
  for (const kid of ['x1', 'x2', 'x3']) {
    t.equal((await byUrl(await assertion(fresh(), { kid }), 'u-eu-rep')).note, 'posture assertion refused: ERR_JWKS_NO_MATCHING_KEY');
  }
  t.equal(fetches, before + 1, 'unknown kids within the cooldown fetch nothing');

  // dt-1 removed at the issuer: after the next refetch, results it verified no longer hold.
  published = published.filter((k) => k.kid !== 'dt-1');
  clock += 11_000;
  await byUrl(await assertion(fresh(), { kid: 'x4' }), 'u-eu-rep'); // triggers the refetch
  t.equal(byUrl.holds(first), false, 'removed key: cached result no longer holds');
  t.equal(byUrl.holds(rotated), true);
  t.equal((await byUrl(await assertion(fresh()), 'u-eu-rep')).note, 'posture assertion refused: ERR_JWKS_NO_MATCHING_KEY');

  // Outage beyond the maximum staleness: unknown, with the reason, not a crash.
  down = true;
  clock += 61_000;
  const stale = await byUrl(await assertion(fresh(), { kid: 'dt-2', key: k2.privateKey }), 'u-eu-rep');
  t.equal(stale.posture, 'unknown');
  t.match(stale.note, /^posture keys unavailable: issuer keys are stale/);
  t.equal(byUrl.holds(rotated), false, 'stale keys: nothing holds');
});
