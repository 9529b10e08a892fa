/**
 * The token attack suite against the real gateway (real dev issuer and oidc-provider on
 * loopback): one table, one row per attack, each asserting the status, the reason code and that
 * the upstream never saw the request. Hostile tokens that need a valid signature (crit, b64,
 * duplicate keys, wrong typ…) are signed with the dev issuer's own key, so only the check under
 * test can refuse them.
 */
import t from 'tap';
import { createPrivateKey, createPublicKey, randomUUID, sign as cryptoSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { rawRequest } from './helpers/raw-request.ts';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { findPersona } from '../../gateway/demo/personas.ts';
import { startHarness, soql, type Harness } from './helpers/harness.ts';

// A server standing in for attacker-controlled jku/x5u URLs: the gateway must never fetch them.
let attackerHits = 0;
const attacker = createServer((req, res) => {
  attackerHits++;
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
});
await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;

const h: Harness = await startHarness({
  // The RFC 9068 profile is on: both the dev issuer and oidc-provider sign typ at+jwt.
  issuerOptions: { requireAtJwt: true, jwksCooldownMs: 60_000 },
});
t.teardown(async () => {
  await h.close();
  await new Promise<void>((r) => attacker.close(() => r()));
});

const path = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');
const keys = await h.devKeys();
const devKey: KeyObject = createPrivateKey({ key: keys.accessToken as JsonWebKey, format: 'jwk' });
const devKid = keys.accessToken.kid!;
const devPublic = createPublicKey(devKey);
const evil = await generateKeyPair('ES256', { extractable: true });
const evilKey = createPrivateKey({ key: (await exportJWK(evil.privateKey)) as JsonWebKey, format: 'jwk' });
const evilJwk = { ...(await exportJWK(evil.publicKey)), alg: 'ES256' };
const persona = findPersona('eu-rep')!.claims;

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ ...persona, iss: h.dev.issuer, aud: 'crm-gateway', iat: nowS(), exp: nowS() + 300, jti: randomUUID(), ...extra });
const header = (extra: Record<string, unknown> = {}) => ({ alg: 'ES256', typ: 'at+jwt', kid: devKid, ...extra });
/** A compact JWS over exactly these header and payload texts (duplicate keys and all), ES256 with `key`. */
const signRaw = (hdr: object | string, payload: object | string, key: KeyObject = devKey): string => {
  const input = `${b64(typeof hdr === 'string' ? hdr : JSON.stringify(hdr))}.${b64(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};
const unsigned = (alg: string) => `${b64(JSON.stringify({ alg, typ: 'at+jwt' }))}.${b64(JSON.stringify(claims()))}.`;
const hs256 = (secret: Buffer) => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: devKid }).sign(secret);
const publicPem = Buffer.from(devPublic.export({ type: 'spki', format: 'pem' }) as string);
const publicJwkJson = Buffer.from(JSON.stringify(devPublic.export({ format: 'jwk' })));
const good = signRaw(header(), claims());
const [gh, gp] = good.split('.') as [string, string, string];

/** One request with raw header lines (fetch would merge or refuse repeated headers). */
const send = (rawHeaders: string[], target = path) => rawRequest(h.gw.url, target, rawHeaders);
const bearer = (token: string | Promise<string>, scheme = 'Bearer') => async () => send(['authorization', `${scheme} ${await token}`]);

type Case = readonly [name: string, request: () => ReturnType<typeof send>, status: number, reason: string | undefined];

t.test('a flood of random kids costs at most one JWKS refetch per cooldown', async (t) => {
  const before = h.dev.stats().jwks;
  const answers = await Promise.all(Array.from({ length: 60 }, () => bearer(signRaw(header({ kid: randomUUID() }), claims()))()));
  t.same([...new Set(answers.map((a) => `${a.status} ${(JSON.parse(a.body) as { reason: string }).reason}`))], ['401 auth.key_unknown'], 'all refused as unknown keys (the IdP answered)');
  t.equal(h.dev.stats().jwks - before, 1, 'one refetch for 60 distinct unknown kids');
  const again = await Promise.all(Array.from({ length: 20 }, () => bearer(signRaw(header({ kid: randomUUID() }), claims()))()));
  t.ok(again.every((a) => a.status === 401));
  t.equal(h.dev.stats().jwks - before, 1, 'no more within the cooldown');
  const metrics = await (await fetch(`${h.gw.url}/metrics`)).text();
  t.match(metrics, `gateway_jwks_refetches_on_unknown_kid_total{issuer="${h.dev.issuer}"} 1\n`);
  t.match(metrics, 'gateway_refusals_total{reason="auth.key_unknown"} 80\n');
});

t.test('attack table: status, reason, upstream never called', async (t) => {
  const cases: Case[] = [
    ['alg none', bearer(unsigned('none')), 401, 'auth.algorithm_not_allowed'],
    ['alg None', bearer(unsigned('None')), 401, 'auth.algorithm_not_allowed'],
    ['alg NONE', bearer(unsigned('NONE')), 401, 'auth.algorithm_not_allowed'],
    ['alg none with the real signature kept', bearer(`${b64(JSON.stringify(header({ alg: 'none' })))}.${gp}.${good.split('.')[2]}`), 401, 'auth.algorithm_not_allowed'],
    ['no alg at all', bearer(signRaw({ typ: 'at+jwt', kid: devKid }, claims())), 401, 'auth.algorithm_not_allowed'],
    ['HS256 keyed with the issuer public key (PEM)', bearer(hs256(publicPem)), 401, 'auth.algorithm_not_allowed'],
    ['HS256 keyed with the issuer public key (JWK JSON)', bearer(hs256(publicJwkJson)), 401, 'auth.algorithm_not_allowed'],
    ['RS256 from an attacker key (alg not allowed)', bearer((async () => new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: devKid }).sign((await generateKeyPair('RS256')).privateKey))()), 401, 'auth.algorithm_not_allowed'],
    ['kid path traversal', bearer(signRaw(header({ kid: '../../etc/passwd' }), claims())), 401, 'auth.key_unknown'],
    ['kid SQL injection', bearer(signRaw(header({ kid: "' OR '1'='1' --" }), claims())), 401, 'auth.key_unknown'],
    ['kid 4000 characters', bearer(signRaw(header({ kid: 'k'.repeat(4000) }), claims())), 401, 'auth.key_unknown'],
    ['kid with NUL and CRLF', bearer(signRaw(header({ kid: `${devKid}\u0000\r\nx` }), claims())), 401, 'auth.key_unknown'],
    ['embedded jwk, attacker-signed, issuer kid', bearer(signRaw(header({ jwk: evilJwk }), claims(), evilKey)), 401, 'auth.signature_invalid'],
    ['embedded jwk, attacker-signed, no kid', bearer(signRaw({ alg: 'ES256', typ: 'at+jwt', jwk: evilJwk }, claims(), evilKey)), 401, 'auth.signature_invalid'],
    ['jku to an attacker JWKS', bearer(signRaw(header({ kid: 'evil-1', jku: `${attackerUrl}/jwks` }), claims(), evilKey)), 401, 'auth.key_unknown'],
    ['x5u to an attacker certificate', bearer(signRaw(header({ kid: 'evil-2', x5u: `${attackerUrl}/cert.pem` }), claims(), evilKey)), 401, 'auth.key_unknown'],
    ['x5c with an attacker chain, issuer kid', bearer(signRaw(header({ x5c: [b64(Buffer.alloc(300, 1)).replace(/-/g, '+').replace(/_/g, '/')] }), claims(), evilKey)), 401, 'auth.signature_invalid'],
    ['ES256 with r = s = 0 (CVE-2022-21449)', bearer(`${gh}.${gp}.${b64(Buffer.alloc(64))}`), 401, 'auth.signature_invalid'],
    ['signature of another token', bearer(`${gh}.${b64(JSON.stringify(claims({ tenant: 'globex' })))}.${good.split('.')[2]}`), 401, 'auth.signature_invalid'],
    ['crit with an unknown extension', bearer(signRaw(header({ crit: ['urn:x-evil'], 'urn:x-evil': true }), claims())), 401, 'auth.header_unsupported'],
    ['b64 false (unencoded payload)', bearer(signRaw(header({ b64: false, crit: ['b64'] }), claims())), 401, 'auth.header_unsupported'],
    ['JWE-shaped 5-part token', bearer(`${b64(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM' }))}.${b64('k')}.${b64('iv')}.${b64('ct')}.${b64('tag')}`), 401, 'auth.token_malformed'],
    ['nested JWT (cty JWT)', bearer(signRaw(header({ cty: 'JWT' }), claims())), 401, 'auth.header_unsupported'],
    ['duplicate key in the header', bearer(signRaw(JSON.stringify(header()).replace(/}$/, `,"kid":"other"}`), claims())), 401, 'auth.token_malformed'],
    ['duplicate key in the payload', bearer(signRaw(header(), JSON.stringify(claims()).replace(/}$/, ',"tenant":"globex"}'))), 401, 'auth.token_malformed'],
    ['ID token presented as an access token (typ JWT)', bearer(signRaw(header({ typ: 'JWT' }), claims({ nonce: 'n', aud: 'crm-gateway' }))), 401, 'auth.wrong_token_type'],
    ['no typ (RFC 9068 profile on)', bearer(signRaw({ alg: 'ES256', kid: devKid }, claims())), 401, 'auth.wrong_token_type'],
    ['expired', bearer(signRaw(header(), claims({ iat: nowS() - 7200, exp: nowS() - 3600 }))), 401, 'auth.token_expired'],
    ['nbf in the future', bearer(signRaw(header(), claims({ nbf: nowS() + 600 }))), 401, 'auth.token_not_yet_valid'],
    ['iat in the future beyond the tolerance', bearer(signRaw(header(), claims({ iat: nowS() + 600, exp: nowS() + 900 }))), 401, 'auth.token_not_yet_valid'],
    ['audience array without ours', bearer(signRaw(header(), claims({ aud: ['billing', 'crm-gateway-2'] }))), 401, 'auth.audience_mismatch'],
    ['wrong issuer', bearer(signRaw(header(), claims({ iss: 'https://evil.example' }), evilKey)), 401, 'auth.issuer_untrusted'],
    ['issuer with a trailing slash', bearer(signRaw(header(), claims({ iss: `${h.dev.issuer}/` }))), 401, 'auth.issuer_untrusted'],
    ['oidc-provider issuer claim, dev issuer key', bearer(signRaw(header(), claims({ iss: h.idp.issuer }))), 401, 'auth.key_unknown'],
    ['token longer than limits.tokenBytes (431, not 401)', bearer(signRaw(header(), claims({ pad: 'x'.repeat(9000) }))), 431, 'request.token_too_large'],
    ['opaque token, no issuer introspects', bearer('x'.repeat(43)), 401, 'auth.token_malformed'],
    ['whitespace inside the token', bearer(`${gh}. ${gp}.x`), 401, 'auth.token_malformed'],
    ['padded base64', bearer(`${gh}=.${gp}.${good.split('.')[2]}`), 401, 'auth.token_malformed'],
    ['payload not a JSON object', bearer(signRaw(header(), '["admin"]')), 401, 'auth.token_malformed'],
    ['two Authorization headers', () => send(['authorization', `Bearer ${good}`, 'authorization', `Bearer ${good}`]), 400, 'request.header_invalid'],
    ['Basic credentials', () => send(['authorization', `Basic ${b64('admin:admin')}`]), 401, 'auth.token_malformed'],
    ['no credentials', () => send([]), 401, 'auth.token_missing'],
  ];
  t.ok(cases.length >= 30, `${cases.length} attack cases`);
  const upstreamBefore = h.crm.requests.length;
  const counted = new Map<string, number>();
  for (const [name, request, status, reason] of cases) {
    const res = await request();
    t.equal(res.status, status, `${name}: ${status}`);
    const p = JSON.parse(res.body) as { reason?: string; decision_id?: string };
    t.equal(p.reason, reason, `${name}: ${reason}`);
    if (reason) counted.set(reason, (counted.get(reason) ?? 0) + 1);
  }
  t.equal(h.crm.requests.length, upstreamBefore, 'no refused request reached the upstream');
  t.equal(attackerHits, 0, 'jku and x5u URLs were never fetched');
  const metrics = await (await fetch(`${h.gw.url}/metrics`)).text();
  t.match(metrics, /# TYPE gateway_refusals_total counter\n/);
  t.match(metrics, `gateway_refusals_total{reason="auth.header_unsupported"} ${counted.get('auth.header_unsupported')}\n`, 'refusals counted per reason');
  t.match(metrics, `gateway_refusals_total{reason="auth.algorithm_not_allowed"} ${counted.get('auth.algorithm_not_allowed')}\n`);
});

t.test('accepted: audience array containing ours, lowercase scheme, oidc-provider token', async (t) => {
  const accepted: Case[] = [
    ['audience array containing ours', bearer(signRaw(header(), claims({ aud: ['billing', 'crm-gateway'] }))), 200, undefined],
    ['lowercase "bearer" (RFC 9110: schemes are case-insensitive)', bearer(signRaw(header(), claims()), 'bearer'), 200, undefined],
    ['typ application/at+jwt', bearer(signRaw(header({ typ: 'application/at+jwt' }), claims())), 200, undefined],
    ['jku ignored on a genuine token', bearer(signRaw(header({ jku: `${attackerUrl}/jwks` }), claims())), 200, undefined],
    ['oidc-provider client-credentials token (typ at+jwt)', async () => send(['authorization', `Bearer ${await h.idp.token('quote-bot')}`], soql('SELECT Id, Name, Tenant__c, Region__c FROM Opportunity LIMIT 5')), 200, undefined],
  ];
  for (const [name, request, status] of accepted) {
    const before = h.crm.requests.length;
    const res = await request();
    t.equal(res.status, status, `${name}: ${res.status} ${res.status === 200 ? '' : res.body}`);
    t.equal(h.crm.requests.length, before + 1, `${name}: forwarded`);
  }
  t.equal(attackerHits, 0, 'jku never fetched');
});
