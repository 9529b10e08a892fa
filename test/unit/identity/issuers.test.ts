/**
 * The issuer registry against a small local OIDC metadata server: discovery is repeated every
 * `discoveryRefreshMs` (a changed jwks_uri is picked up), and `cacheFile` lets an issuer start
 * from the last discovery document and JWKS when its IdP is down at start.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { createIssuerRegistry, type IssuerRegistry } from '../../../gateway/identity/issuers.ts';
import type { IssuerConfig } from '../../../gateway/config/load.ts';

const a = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'a', alg: 'ES256' };
const b = { ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'b', alg: 'ES256' };
const state = { down: false, jwksPath: '/jwks-a', discovery: 0 };
const server = createServer((req, res) => {
  req.resume();
  const path = (req.url ?? '').split('?')[0];
  if (state.down) return void res.writeHead(503).end();
  if (path === '/.well-known/openid-configuration') {
    state.discovery++;
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}${state.jwksPath}`, token_endpoint: `${issuer}/token` }));
  }
  if (path === '/jwks-a') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [a] }));
  if (path === '/jwks-b') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [b] }));
  res.writeHead(404).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
t.teardown(() => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }));
const dir = await mkdtemp(join(tmpdir(), 'gw-issuers-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const cfg = (extra: Partial<IssuerConfig> = {}): IssuerConfig => ({
  issuer, audience: 'crm', algorithms: ['ES256'], clockToleranceSeconds: 0, allowInsecureHttp: true, jwksCooldownMs: 100, maxKeyStalenessMs: 3_600_000,
  requireAtJwt: false, claims: { tenant: 'tenant', regions: 'regions', roles: 'roles', clearance: 'clearance' }, ...extra,
});
const quiet = () => {};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await pause(20);
  return cond();
};
const select = (reg: IssuerRegistry, kid: string) => reg.find(issuer)!.keys!.select({ alg: 'ES256', kid });

t.test('discovery is repeated: a changed jwks_uri is picked up without a restart', async (t) => {
  state.jwksPath = '/jwks-a';
  const reg = createIssuerRegistry([cfg()], { discoveryMs: 1000, keysRefreshMs: 3_600_000, discoveryRefreshMs: 150 }, quiet);
  t.teardown(() => reg.stop());
  await reg.firstAttempt;
  t.match(reg.status()[0], { ready: true, jwksUri: `${issuer}/jwks-a`, keys: { kids: ['a'] }, keysFrom: 'idp' });
  const before = state.discovery;
  state.jwksPath = '/jwks-b';
  t.ok(await until(() => reg.status()[0]!.jwksUri === `${issuer}/jwks-b`), 'the new jwks_uri is in use');
  t.ok(state.discovery > before, 'discovery was repeated');
  t.match(reg.status()[0], { ready: true, keys: { kids: ['b'] } });
  t.match(await select(reg, 'b'), { ok: true });
  t.match(await select(reg, 'a'), { ok: false });
});

t.test('cacheFile: written after a successful fetch; used when the IdP is down at start', async (t) => {
  state.jwksPath = '/jwks-a';
  const cacheFile = join(dir, 'issuer-cache.json');
  const first = createIssuerRegistry([cfg({ cacheFile })], { discoveryMs: 1000, keysRefreshMs: 3_600_000 }, quiet);
  await first.firstAttempt;
  let written = false;
  for (let i = 0; i < 100 && !written; i++) written = await stat(cacheFile).then(() => true, async () => (await pause(20), false));
  t.ok(written, 'the cache file was written');
  first.stop();
  const saved = JSON.parse(await readFile(cacheFile, 'utf8')) as { issuer: string; discovery: { jwks_uri: string }; jwks: { keys: { kid: string }[] } };
  t.equal(saved.issuer, issuer);
  t.equal(saved.discovery.jwks_uri, `${issuer}/jwks-a`);
  t.strictSame(saved.jwks.keys.map((k) => k.kid), ['a']);
  t.equal((await stat(cacheFile)).mode & 0o777, 0o600, 'not world-readable');

  state.down = true;
  t.teardown(() => (state.down = false));
  const cached = createIssuerRegistry([cfg({ cacheFile })], { discoveryMs: 1000, keysRefreshMs: 3_600_000 }, quiet);
  t.teardown(() => cached.stop());
  await cached.firstAttempt;
  t.equal(cached.ready(), true, 'ready from the cache file');
  t.match(cached.status()[0], { ready: true, keysFrom: 'cacheFile', keys: { kids: ['a'], seeded: true } });
  t.match(await select(cached, 'a'), { ok: true }, 'a cached key verifies');
  t.match(await select(cached, 'zz'), { ok: false, why: 'unavailable' }, 'an unknown kid while the IdP is down: unavailable, not unknown');

  const none = createIssuerRegistry([cfg()], { discoveryMs: 1000, keysRefreshMs: 3_600_000 }, quiet);
  t.teardown(() => none.stop());
  await none.firstAttempt;
  t.equal(none.ready(), false, 'without a cache file: unready');
  t.equal(none.find(issuer)!.keys, undefined);

  state.down = false;
  t.ok(await until(() => none.ready(), 5000), 'recovers once the IdP answers');
  t.ok(await until(() => cached.status()[0]!.keysFrom === 'idp', 5000), 'the cached keys are replaced by fetched ones');
});
