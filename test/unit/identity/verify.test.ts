import t from 'tap';
import { createLocalJWKSet, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT, UnsecuredJWT, type JWTVerifyGetKey, type JWK } from 'jose';
import { refusalOfJoseError, verifyJwt } from '../../../gateway/identity/verify.ts';
import type { IssuerRegistry, IssuerState } from '../../../gateway/identity/issuers.ts';
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

const issuerConfig: IssuerConfig = {
  issuer: ISS,
  audience: AUD,
  algorithms: ['ES256'],
  clockToleranceSeconds: 30,
  allowInsecureHttp: false,
  claims: { tenant: 'tenant', regions: 'regions', roles: 'roles', clearance: 'clearance' },
};

/** A minimal registry: one issuer whose state holds a real local key set (or none yet). */
function registry(keys: JWTVerifyGetKey | undefined, cfg: IssuerConfig = issuerConfig): IssuerRegistry {
  const state: IssuerState = { config: cfg, keys, jwksUri: undefined, lastError: undefined };
  return {
    find: (iss) => (iss === cfg.issuer ? state : undefined),
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
  const v = await verifyJwt(await sign(payload), registry(jwks));
  t.strictSame(v, { claims: payload, issuer: issuerConfig, alg: 'ES256', kid: 'k1' });
  const noKid = await verifyJwt(await sign(payload, { kid: null }), registry(createLocalJWKSet({ keys: [esJwk] })));
  t.strictSame(noKid, { claims: payload, issuer: issuerConfig, alg: 'ES256' }, 'no kid key when the token has none');
  const multiAud = await verifyJwt(await sign(good({ aud: ['other', AUD] })), registry(jwks));
  t.equal(isRefusal(multiAud) ? multiAud.code : 'verified', 'verified', 'aud array containing ours');
  const cfgAuds: IssuerConfig = { ...issuerConfig, audience: ['a', 'b'] };
  const second = await verifyJwt(await sign(good({ aud: 'b' })), registry(jwks, cfgAuds));
  t.equal(isRefusal(second) ? second.code : 'verified', 'verified', 'configured audience list');
});

t.test('verifyJwt: clock tolerance', async (t) => {
  const within = await verifyJwt(await sign(good({ exp: now() - 10 })), registry(jwks));
  t.equal(isRefusal(within) ? within.code : 'verified', 'verified', 'expired 10 s ago, tolerance 30 s');
  t.strictSame(await verifyJwt(await sign(good({ exp: now() - 60 })), registry(jwks)), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_EXPIRED' });
  t.strictSame(await verifyJwt(await sign(good({ nbf: now() + 120 })), registry(jwks)), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_NOT_YET_VALID' });
});

t.test('verifyJwt refusals', async (t) => {
  const reg = registry(jwks);
  const cases: [string, Promise<string> | string, unknown][] = [
    ['not a JWT', 'abc', { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'not a compact JWS JWT' }],
    ['garbage header', 'e30.e30.e30.e30.e30', { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'not a compact JWS JWT' }],
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
  let calls = 0;
  const failing: JWTVerifyGetKey = async () => {
    calls++;
    throw new TypeError('fetch failed');
  };
  t.strictSame(await verifyJwt(await sign(good()), registry(failing)), { refusal: true, code: 'GW_ERR_AUTH_KEYS_UNAVAILABLE', detail: 'issuer key set cannot be fetched' });
  t.equal(calls, 1);
  t.strictSame(await verifyJwt(await sign(good(), { alg: 'RS256', kid: 'r1', key: rsa.privateKey }), registry(failing)), { refusal: true, code: 'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', detail: 'alg RS256 is not allowed for this issuer' });
  t.equal(calls, 1, 'a refused algorithm never reaches key selection');
});
