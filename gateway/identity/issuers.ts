/**
 * Trusted issuers: OIDC discovery (openid-client) locates each issuer's JWKS; jose's remote key
 * set fetches and caches the keys. Discovery that fails at start is retried in the background
 * with capped backoff, so the gateway starts while an IdP is down; tokens of that issuer are
 * answered 503 (auth.keys_unavailable) until its keys can be had.
 */
import * as oidc from 'openid-client';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { IssuerConfig } from '../config/load.ts';

export type IssuerState = {
  readonly config: IssuerConfig;
  /** The key set, once discovery succeeded. */
  keys: JWTVerifyGetKey | undefined;
  jwksUri: string | undefined;
  lastError: string | undefined;
};

export type IssuerRegistry = {
  /** The configured issuer whose `issuer` equals the token's (unverified) `iss`, if any. */
  find(iss: string): IssuerState | undefined;
  /** Resolves once every issuer has been tried once (whether or not it succeeded). */
  readonly firstAttempt: Promise<void>;
  ready(): boolean;
  status(): { issuer: string; ready: boolean; jwksUri?: string; lastError?: string }[];
  stop(): void;
};

export type IssuerTimings = { readonly discoveryMs: number; readonly keysRefreshMs: number };

const MAX_BACKOFF_MS = 60_000; // 1 minute

async function discover(cfg: IssuerConfig, t: IssuerTimings): Promise<{ keys: JWTVerifyGetKey; jwksUri: string }> {
  const options: oidc.DiscoveryRequestOptions = { timeout: Math.ceil(t.discoveryMs / 1000) };
  if (cfg.allowInsecureHttp) options.execute = [oidc.allowInsecureRequests];
  // The client id is not used: the gateway is a resource server and only needs the metadata.
  const configuration = await oidc.discovery(new URL(cfg.issuer), 'crm-gateway', undefined, undefined, options);
  const jwksUri = configuration.serverMetadata().jwks_uri;
  if (!jwksUri) throw new Error(`discovery document of ${cfg.issuer} has no jwks_uri`);
  const keys = createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: t.discoveryMs,
    cooldownDuration: 30_000, // 30 seconds between refetches triggered by unknown kids
    cacheMaxAge: t.keysRefreshMs,
  });
  return { keys, jwksUri };
}

export function createIssuerRegistry(configs: readonly IssuerConfig[], t: IssuerTimings, log: (msg: string, extra?: object) => void): IssuerRegistry {
  const states = new Map<string, IssuerState>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const attempt = async (s: IssuerState, backoffMs: number): Promise<void> => {
    try {
      const { keys, jwksUri } = await discover(s.config, t);
      s.keys = keys;
      s.jwksUri = jwksUri;
      s.lastError = undefined;
      log('issuer discovered', { issuer: s.config.issuer, jwksUri });
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
    ready: () => [...states.values()].every((s) => s.keys !== undefined),
    status: () =>
      [...states.values()].map((s) => ({
        issuer: s.config.issuer,
        ready: s.keys !== undefined,
        ...(s.jwksUri ? { jwksUri: s.jwksUri } : {}),
        ...(s.lastError ? { lastError: s.lastError } : {}),
      })),
    stop: () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
