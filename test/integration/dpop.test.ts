/**
 * DPoP (RFC 9449) through the real gateway: the dev issuer mints tokens bound to a client key
 * (`cnf.jkt`), the client signs one proof per request. Every refusal asserts status, reason,
 * the DPoP challenge and that the upstream never saw the request.
 */
import t from 'tap';
import { createHash, randomUUID } from 'node:crypto';
import { rawRequest, type RawAnswer } from './helpers/raw-request.ts';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { findPersona } from '../../gateway/demo/personas.ts';
import { startHarness, soql, type Harness } from './helpers/harness.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
const h: Harness = await startHarness();
t.teardown(() => h.close());

const path = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');
const htu = `${h.gw.url}${path.split('?')[0]}`;
const persona = findPersona('eu-rep')!.claims;
const client = await generateKeyPair('ES256', { extractable: true });
const thief = await generateKeyPair('ES256', { extractable: true });
const pub = async (k: KeyPair) => (await exportJWK(k.publicKey)) as JWK;
const jkt = await calculateJwkThumbprint(await pub(client), 'sha256');
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

const bound = await h.dev.signAccessToken({ ...persona, cnf: { jkt } });
const unbound = await h.dev.signAccessToken({ ...persona });

type ProofOpts = { key?: KeyPair; drop?: string[] };
async function proof(token: string, claims: Record<string, unknown> = {}, o: ProofOpts = {}): Promise<string> {
  const key = o.key ?? client;
  const payload: Record<string, unknown> = { jti: randomUUID(), htm: 'GET', htu, iat: nowS(), ath: ath(token), ...claims };
  for (const d of o.drop ?? []) delete payload[d];
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await pub(key) }).sign(key.privateKey);
}

type Answer = RawAnswer;
/** One GET with raw header lines (repeated headers stay repeated). */
const send = (rawHeaders: string[], target = path, baseUrl = h.gw.url): Promise<Answer> => rawRequest(baseUrl, target, rawHeaders);
const dpop = (token: string, ...proofs: string[]) => send(['authorization', `DPoP ${token}`, ...proofs.flatMap((p) => ['DPoP', p])]);
const reasonOf = (a: Answer) => (JSON.parse(a.body) as { reason?: string }).reason;

t.test('a valid proof is accepted; the proof is not forwarded upstream', async (t) => {
  const before = h.crm.requests.length;
  const res = await dpop(bound, await proof(bound));
  t.equal(res.status, 200, res.body);
  t.equal(h.crm.requests.length, before + 1, 'forwarded');
  const fwd = h.crm.requests.at(-1)!;
  t.notOk(fwd.headers.dpop, 'DPoP proof not forwarded');
  t.notOk(fwd.headers.authorization, 'token not forwarded');
  // lower-case scheme (RFC 9110: case-insensitive) and a second request: the token comes from the
  // verified cache, yet a fresh valid proof is still required.
  const again = await send(['authorization', `dpop ${bound}`, 'dpop', await proof(bound)]);
  t.equal(again.status, 200, again.body);
});

t.test('refusals: status, reason, DPoP challenge, upstream never called', async (t) => {
  const replayed = await proof(bound);
  t.equal((await dpop(bound, replayed)).status, 200, 'first use of the proof');
  const cached = await h.dev.signAccessToken({ ...persona, cnf: { jkt } });
  t.equal((await dpop(cached, await proof(cached))).status, 200, 'token now in the verified cache');
  const mtls = await h.dev.signAccessToken({ ...persona, cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } });
  const proofChallenge = /^DPoP realm="crm-gateway", error="invalid_dpop_proof"/;
  const tokenChallenge = /^DPoP realm="crm-gateway", error="invalid_token"/;
  const cases: [string, () => Promise<Answer>, string, RegExp?][] = [
    ['replayed proof', () => dpop(bound, replayed), 'auth.dpop_replayed', proofChallenge],
    ['wrong htu (another path)', async () => dpop(bound, await proof(bound, { htu: `${h.gw.url}/sf/services/data/v60.0/sobjects/Contact` })), 'auth.dpop_proof_invalid', proofChallenge],
    ['wrong htu (another host)', async () => dpop(bound, await proof(bound, { htu: htu.replace('127.0.0.1', 'localhost') })), 'auth.dpop_proof_invalid', proofChallenge],
    ['wrong htu (https)', async () => dpop(bound, await proof(bound, { htu: htu.replace('http:', 'https:') })), 'auth.dpop_proof_invalid', proofChallenge],
    ['wrong htm', async () => dpop(bound, await proof(bound, { htm: 'POST' })), 'auth.dpop_proof_invalid', proofChallenge],
    ['stale iat', async () => dpop(bound, await proof(bound, { iat: nowS() - 600 })), 'auth.dpop_proof_invalid', proofChallenge],
    ['iat in the future', async () => dpop(bound, await proof(bound, { iat: nowS() + 600 })), 'auth.dpop_proof_invalid', proofChallenge],
    ['missing ath', async () => dpop(bound, await proof(bound, {}, { drop: ['ath'] })), 'auth.dpop_proof_invalid', proofChallenge],
    ['wrong ath (another token)', async () => dpop(bound, await proof(unbound)), 'auth.dpop_proof_invalid', proofChallenge],
    ['proof signed by another key', async () => dpop(bound, await proof(bound, {}, { key: thief })), 'auth.dpop_binding_mismatch', proofChallenge],
    ['proof of a cached token signed by another key', async () => dpop(cached, await proof(cached, {}, { key: thief })), 'auth.dpop_binding_mismatch', proofChallenge],
    ['cached token, no proof', () => send(['authorization', `DPoP ${cached}`]), 'auth.dpop_required', tokenChallenge],
    ['two DPoP headers', async () => dpop(bound, await proof(bound), await proof(bound)), 'auth.dpop_proof_invalid', proofChallenge],
    ['not a JWS', () => dpop(bound, 'not-a-proof'), 'auth.dpop_proof_invalid', proofChallenge],
    ['DPoP-bound token as Bearer', () => send(['authorization', `Bearer ${bound}`]), 'auth.dpop_required', tokenChallenge],
    ['DPoP-bound token as Bearer, with a proof', async () => send(['authorization', `Bearer ${bound}`, 'DPoP', await proof(bound)]), 'auth.dpop_required', tokenChallenge],
    ['unbound token with the DPoP scheme', async () => dpop(unbound, await proof(unbound)), 'auth.dpop_binding_mismatch', proofChallenge],
    ['unbound Bearer token with a proof (no silent downgrade)', async () => send(['authorization', `Bearer ${unbound}`, 'DPoP', await proof(unbound)]), 'auth.dpop_binding_mismatch', proofChallenge],
    ['mTLS-bound token (RFC 8705)', () => send(['authorization', `Bearer ${mtls}`]), 'auth.mtls_unsupported', /^Bearer realm="crm-gateway", error="invalid_token"/],
  ];
  const before = h.crm.requests.length;
  for (const [name, request, reason, challenge] of cases) {
    const res = await request();
    t.equal(res.status, 401, `${name}: 401`);
    t.equal(reasonOf(res), reason, `${name}: ${reason}`);
    if (challenge) t.match(String(res.headers['www-authenticate']), challenge, `${name}: challenge`);
  }
  t.equal(h.crm.requests.length, before, 'no refused request reached the upstream');
  const metrics = await (await fetch(`${h.gw.url}/metrics`)).text();
  t.match(metrics, 'gateway_refusals_total{reason="auth.dpop_replayed"} 1\n', 'refusals counted per reason');
  const records = await h.records();
  t.ok(records.some((r) => (r.reasons as { code: string }[] | undefined)?.some((x) => x.code === 'auth.dpop_replayed')), 'the decision log has the reason');
  t.notMatch(JSON.stringify(records), replayed, 'no proof in the decision log');
  t.equal((await send(['authorization', `Bearer ${unbound}`])).status, 200, 'a plain unbound bearer token still works');
});

t.test('a posture assertion bound to the DPoP key holds only with that key', async (t) => {
  const postureFor = (k: string) => h.dev.signPosture({ sub: persona.sub as string, managed: true, compliant: true, platform: 'macos', cnf: { jkt: k } });
  const noteOf = async (res: Answer) => {
    const id = res.headers['x-decision-id'];
    const rec = (await h.records()).find((r) => r.decision_id === id && r.kind === 'decision') as { provenance?: { posture?: string } } | undefined;
    return rec?.provenance?.posture;
  };
  const same = await send(['authorization', `DPoP ${bound}`, 'DPoP', await proof(bound), 'x-device-posture-assertion', await postureFor(jkt)]);
  t.equal(same.status, 200, same.body);
  t.equal(await noteOf(same), 'verified');
  const otherKey = await calculateJwkThumbprint(await pub(thief), 'sha256');
  const other = await send(['authorization', `DPoP ${bound}`, 'DPoP', await proof(bound), 'x-device-posture-assertion', await postureFor(otherKey)]);
  t.match(await noteOf(other), /does not match the DPoP key/);
  const plain = await send(['authorization', `Bearer ${unbound}`, 'x-device-posture-assertion', await postureFor(jkt)]);
  t.match(await noteOf(plain), /no DPoP-bound token/);
});

t.test('behind a TLS-terminating proxy: proxy.publicOrigin; issuers[].dpop.required', async (t) => {
  const origin = 'https://crm-gw.example.test';
  const h2 = await startHarness({
    issuerOptions: { dpop: { required: true, maxAgeSeconds: 30 } },
    config: (raw) => {
      raw.proxy = { ...((raw.proxy as object | undefined) ?? {}), publicOrigin: origin };
    },
  });
  t.teardown(() => h2.close());
  const token = await h2.dev.signAccessToken({ ...persona, cnf: { jkt } });
  const plain = await h2.dev.signAccessToken({ ...persona });
  const at = (u: string) => proof(token, { htu: u, ath: ath(token) });
  const via = (p: string, tok = token, scheme = 'DPoP') => send(['authorization', `${scheme} ${tok}`, 'DPoP', p], path, h2.gw.url);
  const before = h2.crm.requests.length;
  t.equal((await via(await at(`${origin}${path.split('?')[0]}`))).status, 200, 'htu with the public origin');
  const local = await via(await at(`${h2.gw.url}${path.split('?')[0]}`));
  t.equal(local.status, 401, 'htu with the Host the gateway saw is refused');
  t.equal(reasonOf(local), 'auth.dpop_proof_invalid');
  const unboundRes = await send(['authorization', `Bearer ${plain}`], path, h2.gw.url);
  t.equal(reasonOf(unboundRes), 'auth.dpop_required', 'dpop.required: an unbound token is refused');
  const old = await via(await proof(token, { htu: `${origin}${path.split('?')[0]}`, iat: nowS() - 45 }));
  t.equal(reasonOf(old), 'auth.dpop_proof_invalid', 'maxAgeSeconds 30: a 45 s old proof is refused');
  t.equal(h2.crm.requests.length, before + 1, 'only the accepted request was forwarded');
});
