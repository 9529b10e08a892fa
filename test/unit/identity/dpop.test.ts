/**
 * DPoP (RFC 9449) proof checks, one by one, with real jose keys: each hostile proof differs from
 * a valid one in exactly the property under test.
 */
import t from 'tap';
import { createPrivateKey, sign as cryptoSign, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import {
  accessTokenHash,
  boundJkt,
  createDpopChecker,
  dpopHeaderValues,
  normalizedUrl,
  PLAIN_BEARER,
  requestUrl,
  verifyProof,
  type Presentation,
  type ProofCheck,
} from '../../../gateway/identity/dpop.ts';
import { authorizationToken } from '../../../gateway/identity/bearer.ts';
import { createPostureVerifier } from '../../../gateway/identity/posture.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import type { IssuerConfig } from '../../../gateway/config/load.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
const NOW = Date.now();
const nowS = Math.floor(NOW / 1000);
const URL_ = 'https://gw.example.test/sf/services/data/v60.0/query';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';

const es = await generateKeyPair('ES256', { extractable: true });
const other = await generateKeyPair('ES256', { extractable: true });
const rsa = await generateKeyPair('RS256', { extractable: true });
const ed = await generateKeyPair('EdDSA', { extractable: true });
const pub = async (k: KeyPair) => (await exportJWK(k.publicKey)) as JWK;
const jktOf = async (k: KeyPair) => calculateJwkThumbprint(await pub(k), 'sha256');
const esJkt = await jktOf(es);

type ProofOpts = { key?: KeyPair; jwkOf?: KeyPair; alg?: string; typ?: string | null; header?: Record<string, unknown>; drop?: string[] };
let counter = 0;
async function proof(claims: Record<string, unknown> = {}, o: ProofOpts = {}): Promise<string> {
  const key = o.key ?? es;
  const header: Record<string, unknown> = { alg: o.alg ?? 'ES256', jwk: await pub(o.jwkOf ?? key), ...(o.header ?? {}) };
  if (o.typ !== null) header.typ = o.typ ?? 'dpop+jwt';
  const payload: Record<string, unknown> = { jti: `jti-${++counter}-${Math.random()}`, htm: 'GET', htu: URL_, iat: nowS, ath: accessTokenHash(TOKEN), ...claims };
  for (const d of o.drop ?? []) delete payload[d];
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** A compact ES256 JWS over exactly this header and payload (jose refuses to sign some hostile headers). */
async function rawSign(header: object, payload: object, key: KeyPair = es): Promise<string> {
  const priv = createPrivateKey({ key: (await exportJWK(key.privateKey)) as JsonWebKey, format: 'jwk' });
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: priv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const settings = { required: false, algorithms: ['ES256', 'RS256', 'EdDSA'] as const, maxAgeSeconds: 60 };
const check = (p: string, extra: Partial<ProofCheck> = {}): ProofCheck => ({ proof: p, method: 'GET', url: URL_, accessToken: TOKEN, issuer: 'https://idp.example', settings, clockToleranceSeconds: 5, nowMs: NOW, ...extra });
async function why(p: string | Promise<string>, extra: Partial<ProofCheck> = {}): Promise<string> {
  const r = await verifyProof(check(await p, extra));
  return isRefusal(r) ? `${r.code}: ${r.detail ?? ''}` : 'ok';
}

t.test('a valid proof verifies and yields the key thumbprint (ES256, RS256, EdDSA)', async (t) => {
  for (const [k, alg] of [[es, 'ES256'], [rsa, 'RS256'], [ed, 'EdDSA']] as const) {
    const r = await verifyProof(check(await proof({}, { key: k, alg })));
    if (isRefusal(r)) return t.fail(`${alg}: ${r.detail}`);
    t.equal(r.jkt, await jktOf(k), `${alg}: RFC 7638 thumbprint of the proof key`);
    t.ok(r.expiresAtMs >= NOW + 60_000, `${alg}: jti remembered for the whole window`);
  }
});

t.test('each proof check refuses with auth.dpop_proof_invalid', async (t) => {
  const cases: [string, Promise<string> | string, Partial<ProofCheck>?, RegExp?][] = [
    ['empty', ''],
    ['not a JWS', 'abc.def'],
    ['five parts (JWE)', 'a.b.c.d.e'],
    ['typ JWT', proof({}, { typ: 'JWT' }), {}, /typ/],
    ['no typ', proof({}, { typ: null }), {}, /typ/],
    ['alg not in the allowlist (ES384)', (async () => {
      const k = await generateKeyPair('ES384', { extractable: true });
      return proof({}, { key: k, alg: 'ES384' });
    })(), {}, /alg/],
    ['RS256 not allowed by this issuer', proof({}, { key: rsa, alg: 'RS256' }), { settings: { ...settings, algorithms: ['ES256'] } }, /alg/],
    ['HS256 with a symmetric key', new SignJWT({ jti: 'x', htm: 'GET', htu: URL_, iat: nowS, ath: accessTokenHash(TOKEN) }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } as JWK }).sign(Buffer.from('secret')), {}, /alg/],
    ['no jwk', (async () => new SignJWT({ jti: 'x', htm: 'GET', htu: URL_, iat: nowS, ath: accessTokenHash(TOKEN) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt' }).sign(es.privateKey))(), {}, /jwk/],
    ['private key in the jwk', (async () => proof({}, { header: { jwk: await exportJWK(es.privateKey) } }))(), {}, /private/],
    ['symmetric jwk', proof({}, { header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } }), {}, /private key material/],
    ['signed by another key than its jwk', proof({}, { key: other, jwkOf: es }), {}, /signature/],
    ['crit', (async () => rawSign({ typ: 'dpop+jwt', alg: 'ES256', jwk: await pub(es), crit: ['x'], x: 1 }, { jti: 'c', htm: 'GET', htu: URL_, iat: nowS, ath: accessTokenHash(TOKEN) }))(), {}, /crit/],
    ['htm POST for a GET', proof({ htm: 'POST' }), {}, /htm/],
    ['htm lower-case get', proof({ htm: 'get' }), {}, /htm/],
    ['htu other path', proof({ htu: 'https://gw.example.test/sf/other' }), {}, /htu/],
    ['htu other host', proof({ htu: 'https://evil.example.test/sf/services/data/v60.0/query' }), {}, /htu/],
    ['htu http instead of https', proof({ htu: URL_.replace('https:', 'http:') }), {}, /htu/],
    ['htu not a URL', proof({ htu: 'not a url' }), {}, /htu/],
    ['no htu', proof({}, { drop: ['htu'] }), {}, /htu/],
    ['request URL unknown (no Host)', proof(), { url: undefined }, /publicOrigin/],
    ['iat too old', proof({ iat: nowS - 66 }), {}, /too old/],
    ['iat in the future', proof({ iat: nowS + 30 }), {}, /future/],
    ['iat a string', proof({ iat: String(nowS) }), {}, undefined],
    ['no iat', proof({}, { drop: ['iat'] }), {}, /iat/],
    ['no jti', proof({}, { drop: ['jti'] }), {}, /jti/],
    ['no ath', proof({}, { drop: ['ath'] }), {}, /no ath/],
    ['ath of another token', proof({ ath: accessTokenHash('another.token.x') }), {}, /ath/],
    ['ath of the token, not hashed', proof({ ath: TOKEN }), {}, /ath/],
    ['too long', `${'a'.repeat(9000)}.b.c`, {}, /longer/],
  ];
  for (const [name, p, extra, detail] of cases) {
    const w = await why(p, extra ?? {});
    t.match(w, /^GW_ERR_AUTH_DPOP_PROOF_INVALID/, `${name}: ${w}`);
    if (detail) t.match(w, detail, `${name}: says why`);
  }
  // duplicate keys (two parsers could disagree on which htu counts)
  const p = await proof();
  const [h, , s] = p.split('.') as [string, string, string];
  const dup = Buffer.from(JSON.stringify({ jti: 'd', htm: 'GET', htu: URL_, iat: nowS, ath: accessTokenHash(TOKEN) }).replace(/}$/, `,"htu":"https://evil.example/"}`)).toString('base64url');
  t.match(await why(`${h}.${dup}.${s}`), /^GW_ERR_AUTH_DPOP_PROOF_INVALID: .*duplicate/i, 'duplicate key in the payload');
});

t.test('iat window: within maxAgeSeconds plus tolerance is accepted', async (t) => {
  t.equal(await why(proof({ iat: nowS - 60 })), 'ok', '60 s old');
  t.equal(await why(proof({ iat: nowS - 64 })), 'ok', '64 s old (tolerance 5 s)');
  t.equal(await why(proof({ iat: nowS + 4 })), 'ok', '4 s ahead (tolerance 5 s)');
  t.equal(await why(proof({ iat: nowS - 20 }), { settings: { ...settings, maxAgeSeconds: 10 } }).then((w) => w.startsWith('GW_ERR_AUTH_DPOP_PROOF_INVALID')), true, 'maxAgeSeconds 10: 20 s old refused');
});

t.test('htu comparison normalizes scheme/host case, default port and escape case; ignores query and fragment', async (t) => {
  t.equal(await why(proof({ htu: 'HTTPS://GW.example.test:443/sf/services/data/v60.0/query?q=1#f' })), 'ok');
  t.equal(normalizedUrl('http://h.test:80/a%2fb'), 'http://h.test/a%2Fb');
  t.equal(normalizedUrl('ftp://h.test/a'), undefined);
  t.equal(normalizedUrl('https://user:pw@h.test/a'), undefined);
  t.equal(requestUrl({ publicOrigin: undefined, host: 'gw.test:8080', encrypted: false, rawTarget: '/sf/x?q=1' }), 'http://gw.test:8080/sf/x');
  t.equal(requestUrl({ publicOrigin: undefined, host: 'gw.test', encrypted: true, rawTarget: '/sf/x' }), 'https://gw.test/sf/x');
  t.equal(requestUrl({ publicOrigin: 'https://crm-gw.example.com', host: '10.0.0.5:8080', encrypted: false, rawTarget: '/sf/x?a' }), 'https://crm-gw.example.com/sf/x', 'publicOrigin wins over Host');
  t.equal(requestUrl({ publicOrigin: undefined, host: undefined, encrypted: false, rawTarget: '/sf/x' }), undefined, 'no Host, no publicOrigin');
  t.equal(requestUrl({ publicOrigin: undefined, host: 'evil.test/path', encrypted: false, rawTarget: '/sf/x' }), undefined, 'Host with a path');
  t.equal(requestUrl({ publicOrigin: undefined, host: 'gw.test', encrypted: false, rawTarget: 'http://other/x' }), undefined, 'absolute-form target');
});

t.test('DPoP header values and the Authorization scheme', async (t) => {
  t.strictSame(dpopHeaderValues(['Host', 'h', 'DPoP', ' a.b.c ', 'dpop', 'd.e.f']), ['a.b.c', 'd.e.f']);
  t.strictSame(dpopHeaderValues(['Host', 'h']), []);
  t.strictSame(authorizationToken('DPoP abc.def.ghi', 100), { scheme: 'dpop', token: 'abc.def.ghi' });
  t.strictSame(authorizationToken('dpop abc.def.ghi', 100), { scheme: 'dpop', token: 'abc.def.ghi' });
  t.strictSame(authorizationToken('Bearer abc.def.ghi', 100), { scheme: 'bearer', token: 'abc.def.ghi' });
  const bad = authorizationToken('DPoP a b', 100);
  t.ok(isRefusal(bad) && bad.code === 'GW_ERR_AUTH_TOKEN_MALFORMED');
  const missing = authorizationToken(undefined, 100);
  t.ok(isRefusal(missing) && missing.code === 'GW_ERR_AUTH_TOKEN_MISSING');
});

const issuer: IssuerConfig = {
  issuer: 'https://idp.example',
  audience: 'crm-gateway',
  algorithms: ['ES256'],
  clockToleranceSeconds: 5,
  allowInsecureHttp: false,
  jwksCooldownMs: 30_000,
  maxKeyStalenessMs: 86_400_000,
  requireAtJwt: false,
  claims: { tenant: 'tenant', regions: 'regions', roles: 'roles', clearance: 'clearance' },
};
const dpopPres = (proofs: string[], extra: Partial<Presentation> = {}): Presentation => ({ scheme: 'dpop', proofs, method: 'GET', url: URL_, ...extra });

t.test('sender constraint: binding, scheme, replay, mTLS', async (t) => {
  const checker = createDpopChecker();
  const bound = { sub: 'u', cnf: { jkt: esJkt } };
  const codeOf = async (claims: Record<string, unknown>, p: Presentation, cfg: IssuerConfig = issuer) => (await checker.check({ claims, issuer: cfg, accessToken: TOKEN, presentation: p, nowMs: NOW }))?.code ?? 'ok';

  const good = await proof();
  t.equal(await codeOf(bound, dpopPres([good])), 'ok', 'valid proof for a bound token');
  t.equal(await codeOf(bound, dpopPres([good])), 'GW_ERR_AUTH_DPOP_REPLAYED', 'the same proof again');
  t.equal(checker.replayEntries(), 1);
  const sameJti = await proof({ jti: 'fixed' });
  const sameJti2 = await proof({ jti: 'fixed', htm: 'GET' });
  t.equal(await codeOf(bound, dpopPres([sameJti])), 'ok');
  t.equal(await codeOf(bound, dpopPres([sameJti2])), 'GW_ERR_AUTH_DPOP_REPLAYED', 'another proof reusing a jti');
  t.equal(await codeOf(bound, dpopPres([await proof({ jti: 'fixed' })]), { ...issuer, issuer: 'https://other-idp.example' }), 'ok', 'jti space is per issuer');

  const [c1, c2] = await Promise.all([proof(), proof()]);
  const concurrent = await Promise.all([codeOf(bound, dpopPres([c1!])), codeOf(bound, dpopPres([c1!])), codeOf(bound, dpopPres([c2!]))]);
  t.strictSame(concurrent.sort(), ['GW_ERR_AUTH_DPOP_REPLAYED', 'ok', 'ok'], 'two concurrent copies: one passes');

  t.equal(await codeOf(bound, dpopPres([await proof({}, { key: other })])), 'GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'proof signed by another key');
  t.equal(await codeOf(bound, { ...PLAIN_BEARER }), 'GW_ERR_AUTH_DPOP_REQUIRED', 'bound token as Bearer, no proof');
  t.equal(await codeOf(bound, { ...dpopPres([await proof()]), scheme: 'bearer' }), 'GW_ERR_AUTH_DPOP_REQUIRED', 'bound token as Bearer, with a proof');
  t.equal(await codeOf(bound, dpopPres([])), 'GW_ERR_AUTH_DPOP_REQUIRED', 'DPoP scheme, no proof header');
  t.equal(await codeOf(bound, dpopPres([await proof(), await proof()])), 'GW_ERR_AUTH_DPOP_PROOF_INVALID', 'two DPoP headers');
  t.equal(await codeOf(bound, dpopPres([await proof({ htm: 'POST' })])), 'GW_ERR_AUTH_DPOP_PROOF_INVALID', 'a proof check fails');

  t.equal(await codeOf({ sub: 'u' }, PLAIN_BEARER), 'ok', 'unbound token as Bearer');
  t.equal(await codeOf({ sub: 'u' }, dpopPres([await proof()])), 'GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'unbound token with the DPoP scheme');
  t.equal(await codeOf({ sub: 'u' }, { ...dpopPres([await proof()]), scheme: 'bearer' }), 'GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'unbound Bearer token with a proof: no silent downgrade');
  const required: IssuerConfig = { ...issuer, dpop: { required: true, algorithms: ['ES256'], maxAgeSeconds: 60 } };
  t.equal(await codeOf({ sub: 'u' }, PLAIN_BEARER, required), 'GW_ERR_AUTH_DPOP_REQUIRED', 'dpop.required: unbound token refused');
  t.equal(await codeOf(bound, dpopPres([await proof()]), required), 'ok', 'dpop.required: bound token with a proof accepted');
  t.equal(await codeOf(bound, dpopPres([await proof({}, { key: rsa, alg: 'RS256' })]), required), 'GW_ERR_AUTH_DPOP_PROOF_INVALID', 'dpop.algorithms applies');

  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': 'abc' } }, PLAIN_BEARER), 'GW_ERR_AUTH_MTLS_UNSUPPORTED', 'certificate-bound token');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': 'abc', jkt: esJkt } }, dpopPres([await proof()])), 'GW_ERR_AUTH_MTLS_UNSUPPORTED', 'certificate- and key-bound token');
  // With TLS terminated by the gateway (listen.tls): the verified client certificate's thumbprint.
  const x5t = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2';
  const cert = (x5tS256: string | undefined): Presentation => ({ ...PLAIN_BEARER, mtls: { x5tS256 } });
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t } }, cert(x5t)), 'ok', 'certificate-bound token with its certificate');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t } }, cert('n1FD3bbBvpgxYI_OYUykpvfPxdoo1GbVNINf08YfE0s')), 'GW_ERR_AUTH_MTLS_BINDING_MISMATCH', 'another certificate');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t } }, cert(`${x5t}A`)), 'GW_ERR_AUTH_MTLS_BINDING_MISMATCH', 'a thumbprint of another length');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t } }, cert(undefined)), 'GW_ERR_AUTH_MTLS_BINDING_MISMATCH', 'no verified client certificate');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': 42 } }, cert(x5t)), 'GW_ERR_AUTH_CLAIMS_INVALID', 'x5t#S256 not a string');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': '' } }, cert(x5t)), 'GW_ERR_AUTH_CLAIMS_INVALID', 'x5t#S256 empty');
  t.equal(await codeOf({ sub: 'u' }, cert(x5t)), 'ok', 'unbound token over mutual TLS');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t } }, { ...dpopPres([await proof()]), mtls: { x5tS256: x5t } }), 'GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'certificate-bound (not DPoP-bound) token with a DPoP proof');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t, jkt: esJkt } }, { ...dpopPres([await proof()]), mtls: { x5tS256: x5t } }), 'ok', 'certificate- and key-bound token: both bindings hold');
  t.equal(await codeOf({ sub: 'u', cnf: { 'x5t#S256': x5t, jkt: esJkt } }, { ...PLAIN_BEARER, mtls: { x5tS256: x5t } }), 'GW_ERR_AUTH_DPOP_REQUIRED', 'certificate- and key-bound token still needs its proof');
  t.equal(await codeOf({ sub: 'u', cnf: { kid: 'k' } }, PLAIN_BEARER), 'GW_ERR_AUTH_WRONG_TOKEN_TYPE', 'unknown confirmation method');
  t.equal(await codeOf({ sub: 'u', cnf: 'x' }, PLAIN_BEARER), 'GW_ERR_AUTH_CLAIMS_INVALID', 'cnf not an object');
  t.equal(await codeOf({ sub: 'u', cnf: { jkt: 42 } }, dpopPres([await proof()])), 'GW_ERR_AUTH_CLAIMS_INVALID', 'cnf.jkt not a string');
  t.equal(boundJkt(bound), esJkt);
  t.equal(boundJkt({ cnf: { jkt: 1 } }), undefined);
});

t.test('posture bound to a DPoP key holds only with that key', async (t) => {
  const dt = await generateKeyPair('ES256', { extractable: true });
  const verify = createPostureVerifier({ issuer: 'https://dt.example', jwks: { keys: [{ ...(await exportJWK(dt.publicKey)), kid: 'dt' }] }, algorithms: ['ES256'], header: 'x-device-posture-assertion', maxAgeSeconds: 900 });
  const assertion = (extra: Record<string, unknown>) =>
    new SignJWT({ iss: 'https://dt.example', sub: 'u', iat: nowS, exp: nowS + 600, managed: true, compliant: true, platform: 'macos', ...extra }).setProtectedHeader({ alg: 'ES256', kid: 'dt', typ: 'posture+jwt' }).sign(dt.privateKey);
  const bound = await assertion({ cnf: { jkt: esJkt } });
  t.equal((await verify(bound, 'u', esJkt)).note, 'verified', 'same key');
  const other2 = await verify(bound, 'u', await jktOf(other));
  t.equal(other2.posture, 'unknown');
  t.match(other2.note, /does not match/);
  t.match((await verify(bound, 'u')).note, /no DPoP-bound token/, 'bound assertion, plain bearer token');
  t.match((await verify(await assertion({ cnf: { x5t: 'a' } }), 'u', esJkt)).note, /no jkt/);
  t.equal((await verify(await assertion({}), 'u', esJkt)).note, 'verified', 'unbound assertion with a DPoP token');
});

t.test('a hand-made proof (node:crypto, IEEE P1363 signature) verifies', async (t) => {
  t.equal(await why(rawSign({ typ: 'dpop+jwt', alg: 'ES256', jwk: await pub(es) }, { jti: 'hand', htm: 'GET', htu: URL_, iat: nowS, ath: accessTokenHash(TOKEN) })), 'ok');
});
