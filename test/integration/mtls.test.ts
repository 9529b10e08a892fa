/**
 * Certificate-bound access tokens (RFC 8705) through the real gateway terminating TLS with client
 * certificates (`listen.tls`). A throwaway PKI is made with the openssl CLI at test time: a CA the
 * gateway trusts for client certificates, its server certificate for 127.0.0.1, clients A and B,
 * and a client certificate from another CA. The dev issuer mints tokens with `cnf["x5t#S256"]`.
 * Every refusal asserts status, reason and that the upstream never saw the request.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { findPersona } from '../../gateway/demo/personas.ts';
import { startHarness, soql, type ClientCert, type Harness } from './helpers/harness.ts';
import { makeTestPki } from './helpers/certs.ts';

const dir = await mkdtemp(join(tmpdir(), 'gw-mtls-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const pki = makeTestPki(dir);
const a = pki.client('client-a');
const b = pki.client('client-b');
const certA: ClientCert = { cert: a.cert, key: a.key };
const certB: ClientCert = { cert: b.cert, key: b.key };
const stranger: ClientCert = { cert: pki.stranger.cert, key: pki.stranger.key };

const h: Harness = await startHarness({
  tls: { listen: { cert: pki.server.certFile, key: pki.server.keyFile, clientCa: pki.caFile, requestClientCert: true }, serverCa: pki.ca },
});
t.teardown(() => h.close());

const path = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');
const persona = findPersona('eu-rep')!.claims;
const boundToA = await h.dev.signAccessToken({ ...persona, cnf: { 'x5t#S256': a.x5tS256 } });
const plain = await h.dev.signAccessToken({ ...persona });
const reasonOf = async (res: Response) => ((await res.json()) as { reason?: string }).reason;

t.test('the gateway serves HTTPS with TLS 1.2 at least', async (t) => {
  t.match(h.gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const { port } = new URL(h.gw.url);
  const protocol = (maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
    new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: Number(port), ca: pki.ca, maxVersion, minVersion: 'TLSv1' }, () => {
        resolve(String(s.getProtocol()));
        s.end();
      });
      s.on('error', (err) => resolve(`error: ${err.message}`));
    });
  t.equal(await protocol('TLSv1.2'), 'TLSv1.2', 'TLS 1.2 accepted');
  t.match(await protocol('TLSv1.1'), /^error/, 'TLS 1.1 refused');
});

t.test('a token bound to certificate A is accepted with certificate A, also from the verified cache', async (t) => {
  const before = h.crm.requests.length;
  const res = await h.call(path, { token: boundToA, clientCert: certA });
  t.equal(res.status, 200, 'certificate A');
  await res.arrayBuffer();
  const again = await h.call(path, { token: boundToA, clientCert: certA });
  t.equal(again.status, 200, 'second request (token from the verified cache)');
  await again.arrayBuffer();
  t.equal(h.crm.requests.length, before + 2, 'forwarded');
});

t.test('a plain bearer token over TLS is accepted, with or without a client certificate', async (t) => {
  for (const [name, clientCert] of [['no certificate', undefined], ['certificate B', certB], ['untrusted certificate', stranger]] as const) {
    const res = await h.call(path, { token: plain, ...(clientCert ? { clientCert } : {}) });
    t.equal(res.status, 200, name);
    await res.arrayBuffer();
  }
});

t.test('refusals: auth.mtls_binding_mismatch, upstream never called', async (t) => {
  const fresh = () => h.dev.signAccessToken({ ...persona, cnf: { 'x5t#S256': a.x5tS256 } });
  const boundToStranger = await h.dev.signAccessToken({ ...persona, cnf: { 'x5t#S256': pki.stranger.x5tS256 } });
  const cases: [string, () => Promise<Response>][] = [
    ['cached token bound to A, certificate B', () => h.call(path, { token: boundToA, clientCert: certB })],
    ['uncached token bound to A, certificate B', async () => h.call(path, { token: await fresh(), clientCert: certB })],
    ['cached token bound to A, no certificate', () => h.call(path, { token: boundToA })],
    ['uncached token bound to A, no certificate', async () => h.call(path, { token: await fresh() })],
    ['token bound to a certificate that does not verify against clientCa, with it', () => h.call(path, { token: boundToStranger, clientCert: stranger })],
  ];
  const before = h.crm.requests.length;
  for (const [name, request] of cases) {
    const res = await request();
    t.equal(res.status, 401, `${name}: 401`);
    t.match(String(res.headers.get('www-authenticate')), /^Bearer realm="crm-gateway", error="invalid_token"/, `${name}: challenge`);
    t.equal(await reasonOf(res), 'auth.mtls_binding_mismatch', `${name}: auth.mtls_binding_mismatch`);
  }
  t.equal(h.crm.requests.length, before, 'no refused request reached the upstream');
  const metrics = await (await h.call('/metrics')).text();
  t.match(metrics, `gateway_refusals_total{reason="auth.mtls_binding_mismatch"} ${cases.length}\n`, 'refusals counted per reason');
  const records = await h.records();
  t.ok(records.some((r) => (r.reasons as { code: string }[] | undefined)?.some((x) => x.code === 'auth.mtls_binding_mismatch')), 'the decision log has the reason');
  const ok = await h.call(path, { token: boundToA, clientCert: certA });
  t.equal(ok.status, 200, 'certificate A still works afterwards');
  await ok.arrayBuffer();
});

t.test('requireClientCert: no TLS session without a verified client certificate', async (t) => {
  const strict = await startHarness({
    tls: { listen: { cert: pki.server.certFile, key: pki.server.keyFile, clientCa: pki.caFile, requireClientCert: true }, serverCa: pki.ca },
  });
  t.teardown(() => strict.close());
  const token = await strict.dev.signAccessToken({ ...persona, cnf: { 'x5t#S256': a.x5tS256 } });
  const res = await strict.call(path, { token, clientCert: certA });
  t.equal(res.status, 200, 'certificate A');
  await res.arrayBuffer();
  const before = strict.crm.requests.length;
  await t.rejects(strict.call(path, { token }), 'no certificate: handshake refused');
  await t.rejects(strict.call(path, { token, clientCert: stranger }), 'untrusted certificate: handshake refused');
  t.equal(strict.crm.requests.length, before, 'upstream not called');
});
