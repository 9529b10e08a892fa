/**
 * Trusted issuers: OIDC discovery (openid-client) locates each issuer's JWKS; a key-set manager
 * per issuer (key-set.ts) fetches, caches, refreshes and rate-limits the keys. Discovery that
 * fails at start is retried in the background with capped backoff, so the gateway starts while an
 * IdP is down; tokens of that issuer are answered 503 (auth.keys_unavailable) until its keys can
 * be had, and `/readyz` reports the issuer unready.
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
};

export type IssuerStatus = { issuer: string; ready: boolean; jwksUri?: string; lastError?: string; keys?: KeySetStatus };

export type IssuerRegistry = {
  /** The configured issuer whose `issuer` equals the token's (unverified) `iss`, if any. */
  find(iss: string): IssuerState | undefined;
  /** Resolves once every issuer has been tried once (discovery and first key fetch, whether or not they succeeded). */
  readonly firstAttempt: Promise<void>;
  /** Every issuer has fresh keys. */
  ready(): boolean;
  status(): IssuerStatus[];
  stop(): void;
};

export type IssuerTimings = { readonly discoveryMs: number; readonly keysRefreshMs: number };

const MAX_BACKOFF_MS = 60_000; // 1 minute

async function discoverJwksUri(cfg: IssuerConfig, t: IssuerTimings): Promise<string> {
  const options: oidc.DiscoveryRequestOptions = { timeout: Math.ceil(t.discoveryMs / 1000) };
  if (cfg.allowInsecureHttp) options.execute = [oidc.allowInsecureRequests];
  // The client id is not used: the gateway is a resource server and only needs the metadata.
  const configuration = await oidc.discovery(new URL(cfg.issuer), 'crm-gateway', undefined, undefined, options);
  const jwksUri = configuration.serverMetadata().jwks_uri;
  if (!jwksUri) throw new Error(`discovery document of ${cfg.issuer} has no jwks_uri`);
  if (!cfg.allowInsecureHttp && new URL(jwksUri).protocol !== 'https:') throw new Error(`jwks_uri ${jwksUri} is not https`);
  return jwksUri;
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
      const jwksUri = await discoverJwksUri(s.config, t);
      if (stopped) return;
      s.jwksUri = jwksUri;
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
    const s: IssuerState = { config, keys: undefined, jwksUri: undefined, lastError: undefined };
    states.set(config.issuer, s);
    firsts.push(attempt(s, 1000));
  }

  return {
    find: (iss) => states.get(iss),
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
