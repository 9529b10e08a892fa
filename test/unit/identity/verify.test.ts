import t from 'tap';
import { testIssuer } from '../../fixtures/issuer-config.ts';
import { KeyObject, sign as cryptoSign } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT, type JWTVerifyGetKey, type JWK } from 'jose';
import { refusalOfJoseError, verifyJwt } from '../../../gateway/identity/verify.ts';
import type { IssuerRegistry, IssuerState } from '../../../gateway/identity/issuers.ts';
import { createKeySet, type KeySet } from '../../../gateway/identity/key-set.ts';
import type { IssuerConfig } from '../../../gateway/config/load.ts';
import { isRefusal } from '../../../gateway/errors.ts';

type KeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const ISS = 'https://idp.example.test';
const AUD = 'crm-gateway';
const now = () => Math.floor(Date.now() / 1000);

const es = await generateKeyPair('ES256');
const other = await generateKeyPair('ES256');
const rsa = await generateKeyPair('RS256');
const esJwk: JWK = { ...(await exportJWK(es.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const rsaJwk: JWK = { ...(await exportJWK(rsa.publicKey)), kid: 'r1', alg: 'RS256', use: 'sig' };
const jwks = createLocalJWKSet({ keys: [esJwk, rsaJwk] });

const issuerConfig: IssuerConfig = testIssuer({ issuer: ISS, audience: AUD });

/** A key set served by an in-memory fetch (counted), started. */
async function keySetOf(keys: JWK[] | 'failing', counter = { n: 0 }): Promise<KeySet> {
  const ks = createKeySet({
    jwksUri: 'https://idp.example.test/jwks',
    timeoutMs: 1000,
    refreshMs: 600_000,
    cooldownMs: 30_000,
    maxStalenessMs: 86_400_000,
    fetch: async () => {
      counter.n++;
      if (keys === 'failing') throw new TypeError('fetch failed');
      return Response.json({ keys });
    },
  });
  await ks.start();
  t.teardown(() => ks.stop());
  return ks;
}
const keySet = await keySetOf([esJwk, rsaJwk]);

/** A minimal registry: one issuer whose state holds a key set (or none yet). */
function registry(keys: KeySet | undefined, cfg: IssuerConfig = issuerConfig): IssuerRegistry {
  const state: IssuerState = { config: cfg, keys, jwksUri: undefined, lastError: undefined, introspection: undefined, metadata: undefined, introspections: { ok: 0, failed: 0 }, keysFrom: undefined };
  return {
    find: (iss) => (iss === cfg.issuer ? state : undefined),
    opaqueIssuer: () => undefined,
    introspect: () => Promise.reject(new Error('no introspection in this test')),
    firstAttempt: Promise.resolve(),
    ready: () => keys !== undefined,
    status: () => [{ issuer: cfg.issuer, ready: keys !== undefined }],
    stop: () => {},
  };
}

type Opts = { alg?: string; kid?: string | null; key?: KeyLike | Uint8Array };
async function sign(payload: Record<string, unknown>, o: Opts = {}): Promise<string> {
  const header: Record<string, unknown> = { alg: o.alg ?? 'ES256' };
  if (o.kid !== null) header.kid = o.kid ?? 'k1';
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(o.key ?? es.privateKey);
}
const good = (extra: Record<string, unknown> = {}) => ({ iss: ISS, aud: AUD, sub: 'u-1', tenant: 'acme', iat: now(), exp: now() + 300, ...extra });

/** The refusal jose's own jwtVerify produces for `token` under `opts`, mapped by refusalOfJoseError. */
async function mapped(token: string, opts: Parameters<typeof jwtVerify>[2] = {}, keys: JWTVerifyGetKey = jwks): Promise<unknown> {
  try {
    await jwtVerify(token, keys, { issuer: ISS, audience: AUD, algorithms: ['ES256', 'RS256'], requiredClaims: ['exp', 'sub'], ...opts });
    return 'verified';
  } catch (err) {
    return refusalOfJoseError(err);
  }
}

t.test('refusalOfJoseError maps real jose failures to exact codes', async (t) => {
  t.strictSame(await mapped(await sign(good({ exp: now() - 60 }))), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_EXPIRED' }, 'expired');
  t.strictSame(await mapped(await sign(good({ nbf: now() + 600 }))), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_NOT_YET_VALID' }, 'nbf in the future');
  t.strictSame(await mapped(await sign(good({ aud: 'someone-else' }))), { refusal: true, code: 'GW_ERR_AUTH_AUDIENCE_MISMATCH' }, 'aud mismatch');
  t.strictSame(await mapped(await sign(good({ aud: undefined }))), { refusal: true, code: 'GW_ERR_AUTH_AUDIENCE_MISMATCH' }, 'aud missing');
  t.strictSame(await mapped(await sign(good({ iss: 'https://evil.example' }))), { refusal: true, code: 'GW_ERR_AUTH_ISSUER_UNTRUSTED' }, 'iss mismatch');
  t.strictSame(await mapped(await sign(good(), { key: other.privateKey })), { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }, 'signed by another key under kid k1');
  t.strictSame(await mapped(await sign(good()), { algorithms: ['RS256'] }), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED' }, 'alg not allowed');
  t.strictSame(await mapped(await sign(good(), { kid: 'nope' })), { refusal: true, code: 'GW_ERR_AUTH_KEY_UNKNOWN' }, 'no key with that kid');
  const twice = createLocalJWKSet({ keys: [esJwk, { ...(await exportJWK(other.publicKey)), kid: 'k1', alg: 'ES256' }] });
  t.strictSame(await mapped(await sign(good()), {}, twice), { refusal: true, code: 'GW_ERR_AUTH_KEY_UNKNOWN', detail: 'token kid matches several keys' }, 'kid matches two keys');
  t.strictSame(await mapped(await sign(good({ sub: undefined }))), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim sub: missing' }, 'sub missing');
  t.strictSame(await mapped(await sign(good({ exp: undefined }))), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim exp: missing' }, 'exp missing');
  t.strictSame(await mapped(await sign(good({ exp: 'soon' }))), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim exp: invalid' }, 'exp not a number');
  t.strictSame(await mapped('abc'), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED' }, 'not a JWS (JWSInvalid)');
  const notJson = `${Buffer.from('{"alg":"ES256","kid":"k1"}').toString('base64url')}.${Buffer.from('[1]').toString('base64url')}`;
  const arrPayload = `${notJson}.${(await sign(good())).split('.')[2]}`;
  t.strictSame(await mapped(arrPayload), { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }, 'tampered payload fails on the signature first');
  t.strictSame(await mapped(await sign(good(), { alg: 'ES256' }), { algorithms: undefined }, async () => { throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object'); }), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED' }, 'JWTInvalid');
  const unknownAlg = `${Buffer.from('{"alg":"ES999","kid":"k1"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.AAAA`;
  t.strictSame(await mapped(unknownAlg, { algorithms: undefined }), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED' }, 'unsupported alg (JOSENotSupported)');
  t.throws(() => createLocalJWKSet({ keys: 'x' } as never), errors.JWKSInvalid);
  t.strictSame(refusalOfJoseError(new errors.JWKSInvalid()), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer key set is invalid' });
  t.strictSame(refusalOfJoseError(new errors.JWKSTimeout()), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer key set timed out' });
  t.strictSame(refusalOfJoseError(new errors.JWEDecryptionFailed()), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'ERR_JWE_DECRYPTION_FAILED' }, 'any other JOSEError');
  t.strictSame(refusalOfJoseError(new Error('connect ECONNREFUSED')), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer key set cannot be fetched' }, 'plain Error');
  t.strictSame(refusalOfJoseError(new TypeError('fetch failed')), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer key set cannot be fetched' }, 'TypeError from fetch');
  t.strictSame(refusalOfJoseError('a string'), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer key set cannot be fetched' }, 'non-Error throw');
});

t.test('a malformed time claim is an invalid claim, not "not yet valid"', async (t) => {
  // jose reports a non-numeric nbf/iat with claim "nbf"/"iat" and reason "invalid"; the token is
  // not "not yet valid", it is malformed, and "iat is in the future" is false.
  t.strictSame(await mapped(await sign(good({ nbf: 'tomorrow' }))), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim nbf: invalid' }, 'nbf string');
  t.strictSame(await mapped(await sign(good({ iat: 'today' }))), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim iat: invalid' }, 'iat string');
});

t.test('verifyJwt: a valid token gives its claims, issuer, alg and kid', async (t) => {
  const payload = good({ roles: ['sales'] });
  const v = await verifyJwt(await sign(payload), registry(keySet));
  const esPrint = await calculateJwkThumbprint(esJwk);
  t.strictSame(v, { claims: payload, issuer: issuerConfig, alg: 'ES256', kid: 'k1', key: { kid: 'k1', thumbprint: esPrint, generation: 1 }, keySet });
  const single = await keySetOf([esJwk]);
  const noKid = await verifyJwt(await sign(payload, { kid: null }), registry(single));
  t.strictSame(noKid, { claims: payload, issuer: issuerConfig, alg: 'ES256', key: { kid: 'k1', thumbprint: esPrint, generation: 1 }, keySet: single }, 'no kid key when the token has none');
  const multiAud = await verifyJwt(await sign(good({ aud: ['other', AUD] })), registry(keySet));
  t.equal(isRefusal(multiAud) ? multiAud.code : 'verified', 'verified', 'aud array containing ours');
  const cfgAuds: IssuerConfig = { ...issuerConfig, audience: ['a', 'b'] };
  const second = await verifyJwt(await sign(good({ aud: 'b' })), registry(keySet, cfgAuds));
  t.equal(isRefusal(second) ? second.code : 'verified', 'verified', 'configured audience list');
});

t.test('verifyJwt: clock tolerance', async (t) => {
  const within = await verifyJwt(await sign(good({ exp: now() - 10 })), registry(keySet));
  t.equal(isRefusal(within) ? within.code : 'verified', 'verified', 'expired 10 s ago, tolerance 30 s');
  t.strictSame(await verifyJwt(await sign(good({ exp: now() - 60 })), registry(keySet)), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_EXPIRED' });
  t.strictSame(await verifyJwt(await sign(good({ nbf: now() + 120 })), registry(keySet)), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_NOT_YET_VALID' });
});

t.test('verifyJwt refusals', async (t) => {
  const reg = registry(keySet);
  const cases: [string, Promise<string> | string, unknown][] = [
    ['not a JWT', 'abc', { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'not a compact JWS JWT' }],
    ['five parts (JWE)', 'e30.e30.e30.e30.e30', { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'an encrypted JWT (JWE, 5 parts) is not accepted: send a signed JWT access token' }],
    ['four parts', 'e30.e30.e30.e30', { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'not a compact JWS JWT' }],
    ['no iss', sign(good({ iss: undefined })), { refusal: true, code: 'GW_ERR_AUTH_ISSUER_UNTRUSTED', detail: 'token has no iss' }],
    ['numeric iss', sign(good({ iss: 7 })), { refusal: true, code: 'GW_ERR_AUTH_ISSUER_UNTRUSTED', detail: 'token has no iss' }],
    ['unknown iss', sign(good({ iss: 'https://evil.example' })), { refusal: true, code: 'GW_ERR_AUTH_ISSUER_UNTRUSTED' }],
    ['iss with a trailing slash', sign(good({ iss: `${ISS}/` })), { refusal: true, code: 'GW_ERR_AUTH_ISSUER_UNTRUSTED' }],
    ['RS256 not allowed for this issuer', sign(good(), { alg: 'RS256', kid: 'r1', key: rsa.privateKey }), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', detail: 'alg RS256 is not allowed for this issuer' }],
    ['alg none', new UnsecuredJWT(good()).encode(), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', detail: 'alg none is not allowed for this issuer' }],
    ['HS256 keyed with the public key', sign(good(), { alg: 'HS256', key: new TextEncoder().encode(JSON.stringify(esJwk)) }), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', detail: 'alg HS256 is not allowed for this issuer' }],
    ['expired', sign(good({ exp: now() - 3600 })), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_EXPIRED' }],
    ['wrong audience', sign(good({ aud: 'other' })), { refusal: true, code: 'GW_ERR_AUTH_AUDIENCE_MISMATCH' }],
    ['unknown kid', sign(good(), { kid: 'rotated-away' }), { refusal: true, code: 'GW_ERR_AUTH_KEY_UNKNOWN' }],
    ['another key', sign(good(), { key: other.privateKey }), { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }],
    ['no sub', sign(good({ sub: undefined })), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim sub: missing' }],
    ['no exp', sign(good({ exp: undefined })), { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim exp: missing' }],
  ];
  for (const [name, token, want] of cases) t.strictSame(await verifyJwt(await token, reg), want, name);
});

t.test('verifyJwt: keys not yet discovered, or failing to load', async (t) => {
  t.strictSame(await verifyJwt(await sign(good()), registry(undefined)), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer discovery has not succeeded yet' });
  // the alg allowlist is checked before the missing keys: none/HS* never wait on discovery
  t.strictSame(await verifyJwt(new UnsecuredJWT(good()).encode(), registry(undefined)), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', detail: 'alg none is not allowed for this issuer' });
  const calls = { n: 0 };
  const failing = await keySetOf('failing', calls);
  t.equal(calls.n, 1, 'the first fetch at start');
  t.strictSame(await verifyJwt(await sign(good()), registry(failing)), {
    refusal: true,
    code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE',
    detail: 'issuer keys have not been fetched yet (fetch failed)',
    retryAfterSeconds: 1,
  });
  t.equal(calls.n, 2, 'one refetch on demand');
  t.strictSame(await verifyJwt(await sign(good(), { alg: 'RS256', kid: 'r1', key: rsa.privateKey }), registry(failing)), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', detail: 'alg RS256 is not allowed for this issuer' });
  t.equal(calls.n, 2, 'a refused algorithm never reaches key selection');
});

/** A compact JWS over exactly these header and payload bytes (duplicates and all), signed ES256 with `key`. */
function signRaw(header: string, payload: string, key: KeyLike = es.privateKey): string {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const sig = cryptoSign('sha256', Buffer.from(input), { key: KeyObject.from(key as Parameters<typeof KeyObject.from>[0]), dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}
const claimsJson = () => JSON.stringify(good());

t.test('JOSE hardening: refused before any key is used, even when validly signed', async (t) => {
  const reg = registry(keySet);
  const hdr = (extra: Record<string, unknown>) => JSON.stringify({ alg: 'ES256', kid: 'k1', ...extra });
  const cases: [string, string, unknown][] = [
    ['crit', signRaw(hdr({ crit: ['exp'], exp: 1 }), claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_HEADER_UNSUPPORTED', detail: 'header crit: no JWS extension is accepted' }],
    ['b64 false with crit', signRaw(hdr({ b64: false, crit: ['b64'] }), claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_HEADER_UNSUPPORTED', detail: 'header crit: no JWS extension is accepted' }],
    ['b64 false', signRaw(hdr({ b64: false }), claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_HEADER_UNSUPPORTED', detail: 'header b64: unencoded payloads (RFC 7797) are not accepted' }],
    ['nested JWT (cty JWT)', signRaw(hdr({ cty: 'JWT' }), claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_HEADER_UNSUPPORTED', detail: 'header cty JWT: nested JWTs are not accepted' }],
    ['nested JWT (cty application/jwt)', signRaw(hdr({ cty: 'application/jwt' }), claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_HEADER_UNSUPPORTED', detail: 'header cty JWT: nested JWTs are not accepted' }],
    ['duplicate kid in the header', signRaw('{"alg":"ES256","kid":"k1","kid":"k2"}', claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'token header: duplicate key "kid"' }],
    ['duplicate alg, escaped', signRaw('{"alg":"ES256","kid":"k1","\\u0061lg":"none"}', claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'token header: duplicate key "alg"' }],
    ['duplicate sub in the payload', signRaw(hdr({}), claimsJson().replace(/}$/, ',"sub":"admin"}')), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'token payload: duplicate key "sub"' }],
    ['header is an array', signRaw('[1]', claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'token header is not a JSON object' }],
    ['kid is a number', signRaw(hdr({ kid: 7 }), claimsJson()), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'header kid must be a string' }],
    ['padded segment', `${signRaw(hdr({}), claimsJson()).replace('.', '=.')}`, { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'not a compact JWS JWT (segments must be unpadded base64url)' }],
    ['r = s = 0 (CVE-2022-21449)', `${signRaw(hdr({}), claimsJson()).split('.').slice(0, 2).join('.')}.${Buffer.alloc(64).toString('base64url')}`, { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }],
    ['iat in the future', signRaw(hdr({}), JSON.stringify(good({ iat: now() + 600 }))), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_NOT_YET_VALID', detail: 'iat is in the future' }],
  ];
  for (const [name, token, want] of cases) t.strictSame(await verifyJwt(token, reg), want, name);
});

t.test('header-carried keys are never used', async (t) => {
  const reg = registry(keySet);
  const attackerJwk = { ...(await exportJWK(other.publicKey)), alg: 'ES256' };
  // signed by the attacker, carrying the attacker's key: the issuer's k1 is used, and fails
  t.strictSame(await verifyJwt(signRaw(JSON.stringify({ alg: 'ES256', kid: 'k1', jwk: attackerJwk }), claimsJson(), other.privateKey), reg), { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }, 'jwk with the issuer kid');
  t.strictSame(await verifyJwt(signRaw(JSON.stringify({ alg: 'ES256', jwk: attackerJwk }), claimsJson(), other.privateKey), reg), { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }, 'jwk without kid');
  t.strictSame(await verifyJwt(signRaw(JSON.stringify({ alg: 'ES256', kid: 'k1', x5c: ['MIIB'] }), claimsJson(), other.privateKey), reg), { refusal: true, code: 'GW_ERR_AUTH_SIGNATURE_INVALID' }, 'x5c');
  // a genuine token that also names a jku: verified with the issuer's key, the URL never read
  const genuine = await verifyJwt(signRaw(JSON.stringify({ alg: 'ES256', kid: 'k1', jku: 'https://evil.example/jwks', x5u: 'https://evil.example/cert' }), claimsJson()), reg);
  t.equal(isRefusal(genuine) ? genuine.code : 'verified', 'verified', 'jku/x5u ignored');
});

t.test('RFC 9068 profile: requireAtJwt', async (t) => {
  const reg = registry(keySet, { ...issuerConfig, requireAtJwt: true });
  const withTyp = (typ: string | undefined) => signRaw(JSON.stringify({ alg: 'ES256', kid: 'k1', ...(typ !== undefined ? { typ } : {}) }), claimsJson());
  for (const ok of ['at+jwt', 'application/at+jwt', 'AT+JWT']) {
    const v = await verifyJwt(withTyp(ok), reg);
    t.equal(isRefusal(v) ? v.code : 'verified', 'verified', `typ ${ok}`);
  }
  t.strictSame(await verifyJwt(withTyp('JWT'), reg), { refusal: true, code: 'GW_ERR_AUTH_WRONG_TOKEN_TYPE', detail: "typ JWT: this issuer's access tokens must have typ at+jwt (RFC 9068); an ID token is not an access token" }, 'an ID token (typ JWT)');
  t.strictSame(await verifyJwt(withTyp(undefined), reg), { refusal: true, code: 'GW_ERR_AUTH_WRONG_TOKEN_TYPE', detail: "no typ: this issuer's access tokens must have typ at+jwt (RFC 9068); an ID token is not an access token" }, 'no typ');
  t.strictSame(await verifyJwt(withTyp('dpop+jwt'), reg), { refusal: true, code: 'GW_ERR_AUTH_WRONG_TOKEN_TYPE', detail: "typ dpop+jwt: this issuer's access tokens must have typ at+jwt (RFC 9068); an ID token is not an access token" }, 'a DPoP proof');
  const off = await verifyJwt(withTyp('JWT'), registry(keySet));
  t.equal(isRefusal(off) ? off.code : 'verified', 'verified', 'off by default');
});
