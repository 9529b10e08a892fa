/**
 * Starts the real gateway for integration tests against real servers on 127.0.0.1: the npm
 * `oidc-provider` (automations, client credentials), the development issuer (users, plus the
 * device-trust key), the demo Salesforce-shaped CRM, and optional extra upstreams. The decision
 * log goes to a fresh temporary folder that tests read back.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { formatReport, missingBundles, replayLog } from '../../../audit/replay.ts';
import { validateConfig } from '../../../gateway/config/load.ts';
import { startGateway, type RunningGateway } from '../../../gateway/start.ts';
import { startDemoCrm, type DemoCrm } from '../../../gateway/demo/crm-upstream.ts';
import { readKeyFile, startDevIssuer, type DevIssuer, type DevKeys } from '../../../gateway/demo/dev-issuer.ts';
import { findPersona, issuePersonaTokens, type PersonaName, type PersonaTokens } from '../../../gateway/demo/personas.ts';
import { startIdp, type TestIdp } from './idp.ts';
import { rawRequest } from './raw-request.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** The gateway's client at the test IdP, for `issuers[].introspection`. */
export const INTROSPECTOR = { clientId: 'crm-gateway-introspector', clientSecret: 'introspector-secret-0123456789' } as const;

export type Harness = {
  gw: RunningGateway;
  idp: TestIdp;
  dev: DevIssuer;
  crm: DemoCrm;
  logDir: string;
  tokens(persona: PersonaName): Promise<PersonaTokens>;
  /** The dev issuer's private keys as started (to forge validly signed hostile tokens). */
  devKeys(): Promise<DevKeys>;
  /**
   * GET/POST through the gateway under the demo CRM's prefix `/sf`. With `HarnessOptions.tls`
   * over HTTPS, trusting its `serverCa`, presenting `clientCert` when given (none otherwise).
   */
  call(path: string, init?: { method?: string; token?: string; posture?: string; body?: unknown; headers?: Record<string, string>; clientCert?: ClientCert }): Promise<Response>;
  /** Sends the target exactly as given (fetch would normalize dot segments away first). */
  raw(target: string, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  records(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
};

/** A TLS client certificate and its key, PEM texts. */
export type ClientCert = { readonly cert: string; readonly key: string };

export type HarnessOptions = {
  /** The gateway serves HTTPS: `listen` becomes `listen.tls` (file paths as in the config), `serverCa` (PEM text) is what `call()` trusts. */
  tls?: { listen: Record<string, unknown>; serverCa: string };
  extraUpstreams?: { name: string; url: string; prefix: string; adapter: string; adapterOptions?: Record<string, unknown> }[];
  /** Extra keys for both issuers' configuration (e.g. `jwksCooldownMs`), applied before `config`. */
  issuerOptions?: Record<string, unknown>;
  config?: (raw: Record<string, unknown>) => void;
  now?: () => Date;
  /** The dev issuer answers RFC 8693 token exchange for this client (upstreams[].tokenExchange tests). */
  devTokenExchange?: { clientId: string; clientSecret: string };
  /** Replay the trail when closing and fail on a mismatch or missing bundle (default true). */
  replayOnClose?: boolean;
};

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const idp = await startIdp([
    { client_id: 'quote-bot', client_secret: 'quote-bot-secret-0123456789', scope: 'crm.read crm.write', claims: { tenant: 'acme', regions: ['EU', 'US'], clearance: 'internal' } },
    // Opaque access tokens, introspected by the gateway (test/integration/introspection.test.ts).
    { client_id: 'opaque-bot', client_secret: 'opaque-bot-secret-0123456789', scope: 'crm.read crm.write', claims: { tenant: 'acme', regions: ['EU', 'US'], clearance: 'internal' }, opaque: true },
    { client_id: 'globex-bot', client_secret: 'globex-bot-secret-0123456789', scope: 'crm.read', claims: { tenant: 'globex', regions: ['EU'], clearance: 'internal' }, opaque: true },
    // The gateway's own client at the IdP: authenticates its introspection requests.
    { client_id: INTROSPECTOR.clientId, client_secret: INTROSPECTOR.clientSecret, scope: 'crm.read', claims: {} },
  ]);
  const logDir = await mkdtemp(join(tmpdir(), 'gw-it-'));
  const dev = await startDevIssuer({ keyFile: join(logDir, 'keys.json'), ...(o.devTokenExchange ? { tokenExchange: o.devTokenExchange } : {}) });
  const crm = await startDemoCrm();
  const raw: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 0, ...(o.tls ? { tls: o.tls.listen } : {}) },
    gateway: { region: 'EU', instanceId: 'it' },
    upstreams: [{ name: 'crm', url: crm.url, prefix: '/sf', adapter: 'salesforce' }, ...(o.extraUpstreams ?? [])],
    issuers: [
      { issuer: idp.issuer, audience: idp.audience, algorithms: ['ES256'], allowInsecureHttp: true },
      { issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], allowInsecureHttp: true, clockToleranceSeconds: 5 },
    ].map((i) => ({ ...i, ...(o.issuerOptions ?? {}) })),
    deviceTrust: { issuer: dev.deviceTrust.issuer, jwks: dev.deviceTrust.jwks },
    policy: { bundle: join(ROOT, 'dist', 'bundle.tar.gz') },
    decisionLog: { dir: join(logDir, 'decisions'), durability: 'fsync' },
    timeouts: { connectMs: 1000, headersMs: 1500, bodyMs: 1500 },
    logging: { level: 'silent' },
  };
  o.config?.(raw);
  const gw = await startGateway(validateConfig(raw, ROOT), o.now ? { now: o.now } : {});
  // HTTPS clients, one per client certificate (keep-alive connections keep their certificate).
  const agents = new Map<string, Agent>();
  const agentFor = (tls: { serverCa: string }, cc: ClientCert | undefined): Agent => {
    const id = cc ? `${cc.cert}\n${cc.key}` : '';
    let a = agents.get(id);
    if (!a) agents.set(id, (a = new Agent({ connect: { ca: tls.serverCa, ...(cc ? { cert: cc.cert, key: cc.key } : {}) } })));
    return a;
  };
  return {
    gw,
    idp,
    dev,
    crm,
    logDir,
    devKeys: () => readKeyFile(join(logDir, 'keys.json')),
    async tokens(name) {
      const p = findPersona(name);
      if (!p) throw new Error(`no persona ${name}`);
      return issuePersonaTokens(dev, p);
    },
    call(path, init = {}) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (init.token) headers.authorization = `Bearer ${init.token}`;
      if (init.posture) headers['x-device-posture-assertion'] = init.posture;
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const req = { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) };
      if (o.tls) return undiciFetch(`${gw.url}${path}`, { ...req, dispatcher: agentFor(o.tls, init.clientCert) }) as unknown as Promise<Response>;
      if (init.clientCert) throw new Error('call(): clientCert needs HarnessOptions.tls');
      return fetch(`${gw.url}${path}`, req);
    },
    raw: (target, headers = {}) => rawRequest(gw.url, target, headers),
    async records() {
      const text = await readFile(gw.decisionLog.file, 'utf8');
      return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    async close() {
      await gw.close();
      await Promise.all([...agents.values()].map((a) => a.close()));
      // Issue 4 §7: every decision the gateway wrote in an integration test replays to the same
      // result and reasons against its archived bundle; a mismatch fails the test that closes.
      const replay = o.replayOnClose === false ? undefined : await replayLog(dirname(gw.decisionLog.instanceDir));
      await crm.close();
      await dev.close();
      await idp.close();
      await rm(logDir, { recursive: true, force: true });
      if (replay && (replay.mismatches.length > 0 || missingBundles(replay).length > 0)) {
        throw new Error(`replay of the trail failed:\n${formatReport(replay, 'trail').join('\n')}`);
      }
    },
  };
}

export const API = '/sf/services/data/v60.0';
export const soql = (q: string) => `${API}/query?q=${q.replace(/ /g, '%20').replace(/'/g, '%27')}`;
