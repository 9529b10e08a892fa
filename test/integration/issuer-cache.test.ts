/**
 * Starting while the IdP (the real oidc-provider) is down: with `issuers[].cacheFile` the gateway
 * starts from the discovery document and JWKS a previous run wrote, so tokens verify at once;
 * without it, that issuer's tokens get 503 auth.keys_unavailable until the IdP comes up.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../gateway/config/load.ts';
import { startGateway, type RunningGateway } from '../../gateway/start.ts';
import { ROOT, soql, startHarness } from './helpers/harness.ts';

const dir = await mkdtemp(join(tmpdir(), 'gw-issuer-cache-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const cacheFile = join(dir, 'oidc-provider.json');
let captured: Record<string, unknown> = {};
const h = await startHarness({
  config: (raw) => {
    (raw.issuers as Record<string, unknown>[])[0]!.cacheFile = cacheFile;
    captured = structuredClone(raw);
  },
});
t.teardown(() => h.close());

const opportunities = soql('SELECT Id, Name, Tenant__c, Region__c FROM Opportunity LIMIT 5');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const call = async (gw: RunningGateway, token: string) => {
  const res = await fetch(`${gw.url}${opportunities}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { reason?: string };
  return { status: res.status, reason: body.reason };
};
/** A second gateway on the same IdPs, its own decision log; `cache` keeps or drops the cacheFile. */
const second = async (name: string, cache: boolean): Promise<RunningGateway> => {
  const raw = structuredClone(captured);
  raw.gateway = { region: 'EU', instanceId: name };
  raw.decisionLog = { dir: join(dir, name), fsync: false };
  if (!cache) delete (raw.issuers as Record<string, unknown>[])[0]!.cacheFile;
  const gw = await startGateway(validateConfig(raw, ROOT));
  t.teardown(() => gw.close());
  return gw;
};

t.test('IdP down at start: the cache file serves; without one, 503 until the IdP is back', async (t) => {
  const token = await h.idp.token('quote-bot');
  t.equal((await call(h.gw, token)).status, 200, 'first gateway, IdP up');
  h.idp.setDown(true);
  t.teardown(() => h.idp.setDown(false));

  const withCache = await second('it-cache', true);
  t.match(await call(withCache, token), { status: 200 }, 'a token of the down IdP verifies with the cached keys');
  const ready = (await (await fetch(`${withCache.url}/readyz`)).json()) as { issuers: { issuer: string; ready: boolean; keysFrom?: string }[] };
  t.match(ready.issuers.find((i) => i.issuer === h.idp.issuer), { ready: true, keysFrom: 'cacheFile' }, '/readyz says where the keys came from');

  const without = await second('it-nocache', false);
  t.match(await call(without, token), { status: 503, reason: 'auth.keys_unavailable' }, 'no cache file: 503, the token may be valid');
  t.equal((await fetch(`${without.url}/readyz`)).status, 503, 'and unready');

  h.idp.setDown(false);
  let r = await call(without, token);
  for (let i = 0; i < 80 && r.status !== 200; i++) {
    await pause(100);
    r = await call(without, token);
  }
  t.equal(r.status, 200, 'verifies once the IdP is back, without a restart');
});
