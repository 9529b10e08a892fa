/**
 * RFC 8693 token exchange toward upstreams (`upstreams[].tokenExchange`): the caller's access
 * token is exchanged at the configured issuer's token endpoint (found by that issuer's discovery,
 * see issuers.ts) for a token with the upstream's `audience` (and narrower `scope`), through
 * openid-client's `genericGrantRequest` with client_secret_basic authentication.
 *
 * Results are cached by SHA-256(caller token) + upstream name (never the token itself) until 30 s
 * before the exchanged token expires, and never beyond the caller token's own `exp`; concurrent
 * requests with the same token and upstream share one exchange request. Any failure (issuer not
 * discovered, endpoint unreachable or refusing, an answer without a usable bearer token) is
 * returned as `upstream.token_exchange_failed`: the caller fails closed and forwards nothing.
 */
import * as oidc from 'openid-client';
import { refuse } from '../errors.ts';
import type { Refusal } from '../types.ts';
import type { UpstreamConfig } from '../config/load.ts';
import type { IssuerRegistry } from './issuers.ts';
import { createVerifiedCache, credentialHash } from './verified-cache.ts';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** An exchanged token is reused until this long before its expiry. */
export const EXCHANGE_EXPIRY_MARGIN_MS = 30_000; // 30 seconds
/** Without `expires_in` in the answer, an exchanged token is reused this long at most. */
const DEFAULT_TTL_MS = 60_000; // 1 minute

export type TokenExchanger = {
  /**
   * The token to forward to `upstream` for the caller's `token` (`callerExpMs`: its expiry, when
   * known), or a refusal. Only for upstreams with `tokenExchange`.
   */
  exchange(upstream: UpstreamConfig, token: string, nowMs: number, callerExpMs?: number): Promise<string | Refusal>;
  stats(): { readonly cached: number; readonly ok: number; readonly failed: number };
};

export function createTokenExchanger(o: {
  readonly issuers: IssuerRegistry;
  readonly timeoutMs: number;
  readonly cacheEntries: number;
  readonly log?: (msg: string, extra?: object) => void;
}): TokenExchanger {
  // The cache key is the caller token plus the upstream: one credential, several audiences.
  const cache = createVerifiedCache<{ token: string }>({ max: o.cacheEntries, maxTtlMs: 24 * 3_600_000 });
  const inFlight = new Map<string, Promise<string | Refusal>>();
  const configs = new WeakMap<object, Map<string, oidc.Configuration>>();
  const counts = { ok: 0, failed: 0 };

  const configurationFor = (u: UpstreamConfig): oidc.Configuration | string => {
    const x = u.tokenExchange!;
    const state = o.issuers.find(x.issuer);
    const metadata = state?.metadata;
    if (!state || !metadata) return `issuer ${x.issuer} has not been discovered${state?.lastError ? ` (${state.lastError})` : ''}`;
    if (!metadata.token_endpoint) return `issuer ${x.issuer} has no token_endpoint`;
    if (!state.config.allowInsecureHttp && new URL(metadata.token_endpoint).protocol !== 'https:') return `token_endpoint ${metadata.token_endpoint} is not https`;
    // One Configuration per discovered metadata object and upstream: rediscovery gives a new one.
    let byUpstream = configs.get(metadata);
    if (!byUpstream) configs.set(metadata, (byUpstream = new Map()));
    let c = byUpstream.get(u.name);
    if (!c) {
      c = new oidc.Configuration(metadata, x.clientId, undefined, oidc.ClientSecretBasic(x.clientSecret));
      c.timeout = Math.max(1, Math.ceil(o.timeoutMs / 1000));
      if (state.config.allowInsecureHttp) oidc.allowInsecureRequests(c);
      byUpstream.set(u.name, c);
    }
    return c;
  };

  const failed = (u: UpstreamConfig, why: string): Refusal => {
    counts.failed++;
    o.log?.('token exchange failed; refusing', { upstream: u.name, issuer: u.tokenExchange!.issuer, error: why });
    return refuse('GW_ERR_UPSTREAM_TOKEN_EXCHANGE_FAILED', `token exchange for upstream ${u.name} failed`);
  };

  const run = async (u: UpstreamConfig, token: string, nowMs: number, callerExpMs: number | undefined, key: string): Promise<string | Refusal> => {
    const x = u.tokenExchange!;
    const c = configurationFor(u);
    if (typeof c === 'string') return failed(u, c);
    const params: Record<string, string> = {
      subject_token: token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      audience: x.audience,
      ...(x.scope !== undefined ? { scope: x.scope } : {}),
    };
    let res: Awaited<ReturnType<typeof oidc.genericGrantRequest>>;
    try {
      res = await oidc.genericGrantRequest(c, GRANT, params);
    } catch (err) {
      const e = err as { error?: string; message: string };
      return failed(u, e.error ? `${e.error}: ${e.message}` : e.message);
    }
    const exchanged = res.access_token;
    if (typeof exchanged !== 'string' || exchanged === '') return failed(u, 'the answer has no access_token');
    if (String(res.token_type).toLowerCase() !== 'bearer') return failed(u, `token_type ${String(res.token_type).slice(0, 16)}: only bearer tokens are forwarded`);
    if (res.issued_token_type !== undefined && res.issued_token_type !== ACCESS_TOKEN_TYPE) return failed(u, `issued_token_type ${String(res.issued_token_type).slice(0, 64)} is not an access token`);
    if (exchanged === token) return failed(u, 'the issuer answered with the caller token itself');
    counts.ok++;
    const expiresIn = typeof res.expires_in === 'number' && Number.isFinite(res.expires_in) ? res.expires_in * 1000 : DEFAULT_TTL_MS;
    const until = Math.min(nowMs + expiresIn - EXCHANGE_EXPIRY_MARGIN_MS, callerExpMs ?? Number.POSITIVE_INFINITY);
    cache.set(key, { token: exchanged }, until, nowMs);
    return exchanged;
  };

  return {
    exchange(u, token, nowMs, callerExpMs) {
      // credentialHash(token) and the upstream name: the cache hashes its key again, so the key holds no token.
      const key = `${credentialHash(token)}\n${u.name}`;
      const hit = cache.get(key, nowMs);
      if (hit) return Promise.resolve(hit.token);
      let p = inFlight.get(key);
      if (!p) {
        p = run(u, token, nowMs, callerExpMs, key).finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
      return p;
    },
    stats: () => ({ cached: cache.size(), ...counts }),
  };
}
