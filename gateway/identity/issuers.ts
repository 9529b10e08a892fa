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
 *
 * Discovery is repeated every `timeouts.discoveryRefreshMs` once it succeeded, so a changed
 * `jwks_uri` is picked up without a restart: a new `jwks_uri` gets a new key set, swapped in once
 * its first fetch succeeded (the old one keeps verifying until then). A failed rediscovery keeps
 * what is known.
 *
 * `issuers[].cacheFile`: after each successful key fetch the discovery document and the JWKS are
 * written there (atomically: a temporary file, then rename). When discovery or the first key fetch
 * fails at start, the issuer starts from that file instead: its keys verify (up to
 * `maxKeyStalenessMs` after they were written), unknown kids get 503 until the IdP answers, and
 * `/readyz` reports `keysFrom: "cacheFile"` for the issuer.
 */
import * as oidc from 'openid-client';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { safeParseJson } from '../json/safe-parse.ts';
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
  /** The last discovered metadata. */
  metadata: oidc.ServerMetadata | undefined;
  readonly introspections: { ok: number; failed: number };
  /** Where the current keys came from: the IdP, or the cache file (until the IdP answers). */
  keysFrom: 'idp' | 'cacheFile' | undefined;
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
  /** `cacheFile`: the keys were loaded from `issuers[].cacheFile` because the IdP could not be reached at start. */
  keysFrom?: 'idp' | 'cacheFile';
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

export type IssuerTimings = {
  readonly discoveryMs: number;
  readonly keysRefreshMs: number;
  /** Interval of repeated discovery once it succeeded; default 1 hour. */
  readonly discoveryRefreshMs?: number;
};

const DISCOVERY_REFRESH_MS = 3_600_000; // 1 hour

/** What `issuers[].cacheFile` holds. */
type CacheFile = { readonly v: 1; readonly issuer: string; readonly savedAt: string; readonly discovery: Record<string, unknown>; readonly jwks: { readonly keys: readonly unknown[] } };

async function readCache(cfg: IssuerConfig): Promise<CacheFile | undefined> {
  if (cfg.cacheFile === undefined) return undefined;
  let text: Buffer;
  try {
    text = await readFile(cfg.cacheFile);
  } catch {
    return undefined;
  }
  const parsed = safeParseJson(text, { maxDepth: 10 });
  if (!parsed.ok) return undefined;
  const c = parsed.value as Partial<CacheFile> | null;
  if (!c || c.v !== 1 || c.issuer !== cfg.issuer || typeof c.savedAt !== 'string' || !c.discovery || typeof c.discovery.jwks_uri !== 'string' || !Array.isArray(c.jwks?.keys)) return undefined;
  if (c.discovery.issuer !== cfg.issuer) return undefined;
  return c as CacheFile;
}

async function writeCache(path: string, c: CacheFile): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(c), { mode: 0o600 });
  await rename(tmp, path);
}

const MAX_BACKOFF_MS = 60_000; // 1 minute

async function discover(cfg: IssuerConfig, t: IssuerTimings): Promise<{ jwksUri: string; introspection: oidc.Configuration | undefined; metadata: oidc.ServerMetadata }> {
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
  return { jwksUri, introspection: intro ? configuration : undefined, metadata };
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

  const later = (ms: number, fn: () => void) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
  };

  const newKeySet = (s: IssuerState, jwksUri: string): KeySet =>
    createKeySet({
      jwksUri,
      timeoutMs: t.discoveryMs,
      refreshMs: t.keysRefreshMs,
      cooldownMs: s.config.jwksCooldownMs,
      maxStalenessMs: s.config.maxKeyStalenessMs,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      log: (msg, extra) => log(msg, { issuer: s.config.issuer, ...extra }),
      onFetched: (jwks) => {
        if (s.keys?.status().jwksUri === jwksUri) s.keysFrom = 'idp';
        const path = s.config.cacheFile;
        if (path === undefined || !s.metadata || s.metadata.jwks_uri !== jwksUri) return;
        const c: CacheFile = { v: 1, issuer: s.config.issuer, savedAt: new Date((opts.now ?? Date.now)()).toISOString(), discovery: { ...s.metadata }, jwks };
        writeCache(path, c).catch((err: Error) => log('issuer cache file not written', { issuer: s.config.issuer, cacheFile: path, error: err.message }));
      },
    });

  /** Start from the cache file (the first attempt failed); true when its keys were loaded. */
  const fromCache = async (s: IssuerState): Promise<boolean> => {
    const c = await readCache(s.config);
    if (!c || stopped || s.keys?.ready()) return false;
    const jwksUri = c.discovery.jwks_uri as string;
    const keys = s.keys && s.jwksUri === jwksUri ? s.keys : newKeySet(s, jwksUri);
    if (!(await keys.seed(c.jwks, Date.parse(c.savedAt)))) {
      if (keys !== s.keys) keys.stop();
      return false;
    }
    if (keys !== s.keys) {
      s.keys?.stop();
      s.keys = keys;
      s.jwksUri = jwksUri;
      void keys.start(); // the IdP may be back any time: fetched keys replace the cached ones
    }
    s.keysFrom = 'cacheFile';
    log('issuer keys loaded from the cache file', { issuer: s.config.issuer, cacheFile: s.config.cacheFile, savedAt: c.savedAt });
    return true;
  };

  const attempt = async (s: IssuerState, backoffMs: number, first: boolean): Promise<void> => {
    try {
      const { jwksUri, introspection, metadata } = await discover(s.config, t);
      if (stopped) return;
      s.introspection = introspection;
      s.metadata = metadata;
      s.lastError = undefined;
      if (s.keys && s.jwksUri === jwksUri) {
        // Rediscovery (or discovery after starting from the cache file) with the same jwks_uri: the key set stays.
        if (!s.keys.ready() || s.keysFrom === 'cacheFile') void s.keys.refresh();
      } else if (s.keys) {
        // A new jwks_uri: swapped in once its first fetch succeeded; the old set verifies until then.
        const next = newKeySet(s, jwksUri);
        if (await next.start()) {
          if (stopped) return next.stop();
          const old = s.keys;
          s.keys = next;
          s.jwksUri = jwksUri;
          s.keysFrom = 'idp';
          old.stop();
          log('issuer jwks_uri changed', { issuer: s.config.issuer, jwksUri });
        } else {
          next.stop();
          s.lastError = `new jwks_uri ${jwksUri} could not be fetched; keeping ${s.jwksUri}`;
        }
      } else {
        s.jwksUri = jwksUri;
        s.keys = newKeySet(s, jwksUri);
        log('issuer discovered', { issuer: s.config.issuer, jwksUri });
        // A failed first fetch is retried by the key set itself; the issuer stays unready meanwhile (or serves the cache file).
        if (!(await s.keys.start()) && first) await fromCache(s);
      }
      later(t.discoveryRefreshMs ?? DISCOVERY_REFRESH_MS, () => void attempt(s, 1000, false));
    } catch (err) {
      s.lastError = (err as Error).message;
      log('issuer discovery failed; retrying', { issuer: s.config.issuer, error: s.lastError, retryInMs: backoffMs });
      if (stopped) return;
      if (first) await fromCache(s);
      later(backoffMs, () => void attempt(s, Math.min(backoffMs * 2, MAX_BACKOFF_MS), false));
    }
  };

  const firsts: Promise<void>[] = [];
  for (const config of configs) {
    const s: IssuerState = { config, keys: undefined, jwksUri: undefined, lastError: undefined, introspection: undefined, metadata: undefined, introspections: { ok: 0, failed: 0 }, keysFrom: undefined };
    states.set(config.issuer, s);
    firsts.push(attempt(s, 1000, true));
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
          ...(s.keysFrom ? { keysFrom: s.keysFrom } : {}),
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
