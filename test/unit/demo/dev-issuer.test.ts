import { stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import {
  createDevSigner,
  loadOrCreateKeys,
  publicJwk,
  readKeyFile,
  spanSeconds,
  startDevIssuer,
} from '../../../gateway/demo/dev-issuer.ts';

t.test('discovery metadata and JWKS verify a signed access token', async (t) => {
  const iss = await startDevIssuer({});
  t.teardown(() => iss.close());
  t.match(iss.issuer, /^http:\/\/127\.0\.0\.1:[0-9]+$/);
  t.equal(iss.audience, 'crm-gateway');

  const res = await fetch(`${iss.issuer}/.well-known/openid-configuration`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  const meta = (await res.json()) as Record<string, unknown>;
  t.equal(meta.issuer, iss.issuer);
  t.equal(meta.jwks_uri, iss.jwksUri);
  t.type(meta.token_endpoint, 'string');
  t.type(meta.authorization_endpoint, 'string');
  t.same(meta.response_types_supported, ['code']);
  t.same(meta.subject_types_supported, ['public']);
  t.same(meta.id_token_signing_alg_values_supported, ['ES256']);

  const jwks = (await (await fetch(iss.jwksUri)).json()) as { keys: Record<string, unknown>[] };
  t.equal(jwks.keys.length, 1);
  for (const k of jwks.keys) {
    t.notOk('d' in k, 'no private part in the JWKS');
    t.match(k, { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: /^at-/ });
  }

  const token = await iss.signAccessToken({ sub: 'u-1', tenant: 'acme', regions: ['EU'], scope: 'crm.read' });
  const header = decodeProtectedHeader(token);
  t.same(header, { alg: 'ES256', typ: 'at+jwt', kid: jwks.keys[0]!.kid });
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(meta.jwks_uri as string)), {
    issuer: iss.issuer,
    audience: 'crm-gateway',
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
  t.match(payload, { iss: iss.issuer, aud: 'crm-gateway', sub: 'u-1', tenant: 'acme', regions: ['EU'], scope: 'crm.read' });
  t.equal(payload.exp! - payload.iat!, 3600);
  t.match(payload.jti, /^[0-9a-f-]{36}$/);
  t.same(iss.stats(), { discovery: 1, jwks: 2, tokenExchange: 0 });
});

t.test('posture assertions: typ posture+jwt, device-trust key, 10 minutes', async (t) => {
  const iss = await startDevIssuer();
  t.teardown(() => iss.close());
  t.equal(iss.deviceTrust.issuer, 'demo-device-trust');
  const jws = await iss.signPosture({ sub: 'u-1', managed: true, compliant: true, platform: 'macos' });
  t.equal(decodeProtectedHeader(jws).typ, 'posture+jwt');
  const { payload } = await jwtVerify(jws, createLocalJWKSet(iss.deviceTrust.jwks), { issuer: 'demo-device-trust', typ: 'posture+jwt' });
  t.match(payload, { iss: 'demo-device-trust', sub: 'u-1', managed: true, compliant: true, platform: 'macos' });
  t.equal(payload.exp! - payload.iat!, 600);
  for (const k of iss.deviceTrust.jwks.keys) t.notOk('d' in k);
  // the access-token JWKS does not verify posture, and vice versa: separate keys
  const remote = createRemoteJWKSet(new URL(iss.jwksUri));
  await t.rejects(jwtVerify(jws, remote), errors.JWKSNoMatchingKey);
  const at = await iss.signAccessToken({ sub: 'u-1' });
  await t.rejects(jwtVerify(at, createLocalJWKSet(iss.deviceTrust.jwks)), errors.JWKSNoMatchingKey);
});

t.test('sign options: expiry, not-before, kid, pinned clock, claim overrides', async (t) => {
  const iss = await startDevIssuer();
  t.teardown(() => iss.close());
  const jwks = createRemoteJWKSet(new URL(iss.jwksUri));
  const expired = await iss.signAccessToken({ sub: 'u' }, { expiresIn: -60 });
  await t.rejects(jwtVerify(expired, jwks), errors.JWTExpired);
  const early = await iss.signAccessToken({ sub: 'u' }, { notBefore: '10m' });
  await t.rejects(jwtVerify(early, jwks), errors.JWTClaimValidationFailed);
  const unknownKid = await iss.signAccessToken({ sub: 'u' }, { kid: 'nope' });
  await t.rejects(jwtVerify(unknownKid, jwks), errors.JWKSNoMatchingKey);
  const pinned = await iss.signAccessToken({ sub: 'u' }, { issuedAt: 1_700_000_000, expiresIn: '5m' });
  const { payload } = await jwtVerify(pinned, jwks, { currentDate: new Date(1_700_000_100_000) });
  t.equal(payload.iat, 1_700_000_000);
  t.equal(payload.exp, 1_700_000_300);
  const wrongAud = await iss.signAccessToken({ sub: 'u', aud: 'someone-else' });
  await t.rejects(jwtVerify(wrongAud, jwks, { audience: 'crm-gateway' }), errors.JWTClaimValidationFailed);
  t.equal(spanSeconds('1h'), 3600);
  t.equal(spanSeconds('-2d'), -172_800);
  t.equal(spanSeconds(90), 90);
  t.throws(() => spanSeconds('soon'), RangeError);
});

t.test('rotate publishes a new signing key first; retire and keepPrevious: false remove keys', async (t) => {
  const iss = await startDevIssuer();
  t.teardown(() => iss.close());
  const kids = async () => ((await (await fetch(iss.jwksUri)).json()) as { keys: { kid: string; d?: string }[] }).keys.map((k) => k.kid);
  const [original] = iss.publishedKids();
  const before = await iss.signAccessToken({ sub: 'u-1', tenant: 'acme' });
  const next = await iss.rotate();
  t.not(next, original);
  t.same(await kids(), [next, original], 'new key first, previous still published');
  const after = await iss.signAccessToken({ sub: 'u-1', tenant: 'acme' });
  t.equal(decodeProtectedHeader(after).kid, next, 'tokens are signed with the new key');
  const jwks = createLocalJWKSet((await (await fetch(iss.jwksUri)).json()) as { keys: [] });
  for (const tok of [before, after]) t.ok(await jwtVerify(tok, jwks, { issuer: iss.issuer, audience: 'crm-gateway' }), 'both verify while both are published');
  iss.retire(original!);
  t.same(await kids(), [next]);
  const third = await iss.rotate({ keepPrevious: false });
  t.same(iss.publishedKids(), [third]);
  t.same(await kids(), [third]);
});

t.test('setDown answers 503 everywhere until brought back', async (t) => {
  const iss = await startDevIssuer();
  t.teardown(() => iss.close());
  iss.setDown(true);
  t.equal((await fetch(iss.jwksUri)).status, 503);
  t.equal((await fetch(`${iss.issuer}/.well-known/openid-configuration`)).status, 503);
  iss.setDown(false);
  t.equal((await fetch(iss.jwksUri)).status, 200);
  t.equal((await fetch(`${iss.issuer}/nope`)).status, 404);
});

t.test('the key file is written 0600 and reused by the next start and by another signer', async (t) => {
  const dir = t.testdir({});
  const keyFile = join(dir, 'nested', 'keys.json');
  const first = await startDevIssuer({ keyFile });
  const jwks1 = (await (await fetch(first.jwksUri)).json()) as { keys: { kid: string }[] };
  await first.close();
  t.equal((await stat(keyFile)).mode & 0o777, 0o600);
  const onDisk = JSON.parse(await readFile(keyFile, 'utf8'));
  t.equal(onDisk.version, 1);
  t.type(onDisk.accessToken.d, 'string');

  const second = await startDevIssuer({ keyFile });
  t.teardown(() => second.close());
  const jwks2 = (await (await fetch(second.jwksUri)).json()) as { keys: { kid: string }[] };
  t.same(jwks2, jwks1, 'same public keys on restart');
  t.same(second.deviceTrust.jwks.keys.map((k) => k.kid), [publicJwk(onDisk.deviceTrust).kid]);

  // a separate signer (the token CLI) with the same file signs tokens the running issuer's keys verify
  const cli = await createDevSigner(await readKeyFile(keyFile), second.issuer);
  const token = await cli.signAccessToken({ sub: 'u-cli' });
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(second.jwksUri)), { issuer: second.issuer, audience: 'crm-gateway' });
  t.equal(payload.sub, 'u-cli');
  const posture = await cli.signPosture({ sub: 'u-cli', managed: true, compliant: false, platform: 'linux' });
  await jwtVerify(posture, createLocalJWKSet(second.deviceTrust.jwks));

  t.equal((await loadOrCreateKeys(keyFile)).created, false);
  t.equal((await loadOrCreateKeys()).created, true, 'no key file: fresh in-memory keys');
});

t.test('a corrupt key file is an error, never silently replaced', async (t) => {
  const dir = t.testdir({ 'keys.json': '{"version":1,"accessToken":{"kty":"RSA"}}' });
  const keyFile = join(dir, 'keys.json');
  await t.rejects(startDevIssuer({ keyFile }), /keyFile .*accessToken/);
  await writeFile(keyFile, '{"version":9}');
  await t.rejects(readKeyFile(keyFile), /not a version 1/);
  t.equal(await readFile(keyFile, 'utf8'), '{"version":9}');
});
