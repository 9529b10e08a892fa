/**
 * Trusted issuers: OIDC discovery (openid-client) locates each issuer's JWKS; a key-set manager
 * per issuer (key-set.ts) fetches, caches, refreshes and rate-limits the keys. Discovery that
 * fails at start is retried in the background with capped backoff, so the gateway starts while an
 * IdP is down; tokens of that issuer are answered 503 (auth.keys_unavailable) until its keys can
 * be had, and `/readyz` reports the issuer unready.
 *
 * Issuers with `introspection` are discovered with their client id and client_secret_basic
 * authentication, and the discovered configuration is kept for RFC 7662 introspection requests
 * (`introspect`), which time out after `timeouts.discoveryMs`. Opaque tokens (bearer tokens that
 * are not JWS-shaped) go to `opaqueIssuer()`: the issuer with `opaque: true`, else the only issuer
 * with `introspection` (config load refuses an ambiguous configuration), else none.
 */
import * as oidc from 'openid-client';
import type { IssuerConfig } from '../config/load.ts';
import { createKeySet, type KeySet, type KeySetFetch, type KeySetStatus } from './key-set.ts';

export type IssuerState = {
  readonly config: IssuerConfig;
  /** The key set, once discovery succeeded (its keys may still be on their way). */
  keys: KeySet | undefined;
  jwksUri: string | undefined;
  /** The last discovery error. */
  lastError: string | undefined;
  /** The discovered configuration with client authentication, for issuers with `introspection`. */
  introspection: oidc.Configuration | undefined;
  readonly introspections: { ok: number; failed: number };
};

export type IntrospectionResult = Readonly<Record<string, unknown>> & { readonly active: boolean };

export type IssuerStatus = {
  issuer: string;
  ready: boolean;
  jwksUri?: string;
  lastError?: string;
  keys?: KeySetStatus;
  /** Introspection requests by result, for issuers with `introspection`. */
  introspection?: { ok: number; failed: number };
};

export type IssuerRegistry = {
  /** The configured issuer whose `issuer` equals the token's (unverified) `iss`, if any. */
  find(iss: string): IssuerState | undefined;
  /** The issuer that introspects opaque tokens, if any (see the module comment). */
  opaqueIssuer(): IssuerState | undefined;
  /**
   * RFC 7662 introspection of `token` at the issuer. Rejects when the endpoint cannot be asked or
   * answers anything but a valid introspection response (the caller fails closed).
   */
  introspect(s: IssuerState, token: string): Promise<IntrospectionResult>;
  /** Resolves once every issuer has been tried once (discovery and first key fetch, whether or not they succeeded). */
  readonly firstAttempt: Promise<void>;
  /** Every issuer has fresh keys. */
  ready(): boolean;
  status(): IssuerStatus[];
  stop(): void;
};

export type IssuerTimings = { readonly discoveryMs: number; readonly keysRefreshMs: number };

const MAX_BACKOFF_MS = 60_000; // 1 minute

async function discover(cfg: IssuerConfig, t: IssuerTimings): Promise<{ jwksUri: string; introspection: oidc.Configuration | undefined }> {
  const options: oidc.DiscoveryRequestOptions = { timeout: Math.ceil(t.discoveryMs / 1000) };
  if (cfg.allowInsecureHttp) options.execute = [oidc.allowInsecureRequests];
  // Without introspection the client id is not used: the gateway is a resource server and only needs the metadata.
  const intro = cfg.introspection;
  const configuration = intro
    ? await oidc.discovery(new URL(cfg.issuer), intro.clientId, undefined, oidc.ClientSecretBasic(intro.clientSecret), options)
    : await oidc.discovery(new URL(cfg.issuer), 'crm-gateway', undefined, undefined, options);
  const metadata = configuration.serverMetadata();
  const jwksUri = metadata.jwks_uri;
  if (!jwksUri) throw new Error(`discovery document of ${cfg.issuer} has no jwks_uri`);
  if (!cfg.allowInsecureHttp && new URL(jwksUri).protocol !== 'https:') throw new Error(`jwks_uri ${jwksUri} is not https`);
  if (intro) {
    const endpoint = metadata.introspection_endpoint;
    if (!endpoint) throw new Error(`discovery document of ${cfg.issuer} has no introspection_endpoint`);
    if (!cfg.allowInsecureHttp && new URL(endpoint).protocol !== 'https:') throw new Error(`introspection_endpoint ${endpoint} is not https`);
  }
  return { jwksUri, introspection: intro ? configuration : undefined };
}

export function createIssuerRegistry(
  configs: readonly IssuerConfig[],
  t: IssuerTimings,
  log: (msg: string, extra?: object) => void,
  opts: { readonly fetch?: KeySetFetch; readonly now?: () => number } = {},
): IssuerRegistry {
  const states = new Map<string, IssuerState>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const attempt = async (s: IssuerState, backoffMs: number): Promise<void> => {
    try {
      const { jwksUri, introspection } = await discover(s.config, t);
      if (stopped) return;
      s.jwksUri = jwksUri;
      s.introspection = introspection;
      s.lastError = undefined;
      s.keys = createKeySet({
        jwksUri,
        timeoutMs: t.discoveryMs,
        refreshMs: t.keysRefreshMs,
        cooldownMs: s.config.jwksCooldownMs,
        maxStalenessMs: s.config.maxKeyStalenessMs,
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
        ...(opts.now ? { now: opts.now } : {}),
        log: (msg, extra) => log(msg, { issuer: s.config.issuer, ...extra }),
      });
      log('issuer discovered', { issuer: s.config.issuer, jwksUri });
      // A failed first fetch is retried by the key set itself; the issuer stays unready meanwhile.
      await s.keys.start();
    } catch (err) {
      s.lastError = (err as Error).message;
      log('issuer discovery failed; retrying', { issuer: s.config.issuer, error: s.lastError, retryInMs: backoffMs });
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        void attempt(s, Math.min(backoffMs * 2, MAX_BACKOFF_MS));
      }, backoffMs);
      timer.unref();
      timers.add(timer);
    }
  };

  const firsts: Promise<void>[] = [];
  for (const config of configs) {
    const s: IssuerState = { config, keys: undefined, jwksUri: undefined, lastError: undefined, introspection: undefined, introspections: { ok: 0, failed: 0 } };
    states.set(config.issuer, s);
    firsts.push(attempt(s, 1000));
  }

  const opaque = configs.find((c) => c.opaque) ?? (configs.filter((c) => c.introspection).length === 1 ? configs.find((c) => c.introspection) : undefined);
  const opaqueState = opaque ? states.get(opaque.issuer) : undefined;

  return {
    find: (iss) => states.get(iss),
    opaqueIssuer: () => opaqueState,
    async introspect(s, token) {
      if (!s.introspection) {
        s.introspections.failed++;
        throw new Error(s.lastError ? `issuer discovery has not succeeded: ${s.lastError}` : 'issuer discovery has not succeeded yet');
      }
      try {
        // The hint is only a hint (RFC 7662 §2.1); the checks on the answer are the caller's.
        const res = await oidc.tokenIntrospection(s.introspection, token, { token_type_hint: 'access_token' });
        s.introspections.ok++;
        return res as IntrospectionResult;
      } catch (err) {
        s.introspections.failed++;
        throw err;
      }
    },
    firstAttempt: Promise.all(firsts).then(() => undefined),
    ready: () => [...states.values()].every((s) => s.keys?.ready() === true),
    status: () =>
      [...states.values()].map((s) => {
        const keys = s.keys?.status();
        const lastError = s.lastError ?? keys?.lastError;
        return {
          issuer: s.config.issuer,
          ready: keys?.ready === true,
          ...(s.jwksUri ? { jwksUri: s.jwksUri } : {}),
          ...(lastError ? { lastError } : {}),
          ...(keys ? { keys } : {}),
          ...(s.config.introspection ? { introspection: { ...s.introspections } } : {}),
        };
      }),
    stop: () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const s of states.values()) s.keys?.stop();
    },
  };
}
