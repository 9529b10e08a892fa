/**
 * Bearer token → Principal: the one authentication path of the gateway (server.ts calls it per
 * request; bench/identity.ts measures it). Which way a token goes is decided by its shape only:
 *
 * - JWS-shaped (three dot-separated parts; five is a JWE and is refused by verify.ts) → local
 *   verification against the issuer's keys (verify.ts). Verified principals are cached by the
 *   SHA-256 of the token, tied to the verifying key (a removed key's tokens stop from cache too).
 * - anything else, when an issuer takes opaque tokens (`IssuerRegistry.opaqueIssuer`) → RFC 7662
 *   introspection at that issuer. Results, active or not, are cached by the SHA-256 of the token
 *   (never the token): an active one until min(`exp`, `timeouts.introspectionCacheMs`), an
 *   inactive or refused one for `timeouts.inactiveCacheMs`. Concurrent requests with the same
 *   token share one introspection request. When the endpoint cannot be asked the request is
 *   refused (503 `auth.introspection_unavailable`, fail closed) and, for `OUTAGE_HOLD_MS`, further
 *   uncached tokens are refused without asking, so an outage does not turn into a request storm
 *   against the IdP.
 * - anything else without such an issuer → the JWT path, which refuses it as malformed.
 *
 * Then, for both: `issuers[].tenants`, when set, must list the token's tenant (an IdP of tenant A
 * cannot mint tokens for tenant B).
 *
 * Last, on every request, cached or not: the sender constraint (dpop.ts). A DPoP-bound token
 * needs a fresh valid proof each time (only the token's signature check is cached, never a
 * proof), a DPoP-bound token presented as Bearer is refused, and a certificate-bound token
 * (RFC 8705) needs the verified TLS client certificate it is bound to on every request (refused
 * by name when the gateway does not terminate TLS).
 */
import { isRefusal, refuse } from '../errors.ts';
import type { Principal, Refusal } from '../types.ts';
import type { IssuerConfig } from '../config/load.ts';
import type { IssuerRegistry, IssuerState } from './issuers.ts';
import type { KeyRef, KeySet } from './key-set.ts';
import { verifyJwt } from './verify.ts';
import { principalFromClaims } from './principal.ts';
import { claimsOfIntrospection } from './introspect.ts';
import { createVerifiedCache, credentialHash } from './verified-cache.ts';
import { createDpopChecker, PLAIN_BEARER, type Presentation } from './dpop.ts';

/** After a failed introspection request, uncached opaque tokens are refused without asking for this long. */
export const OUTAGE_HOLD_MS = 1_000; // 1 second, also the Retry-After

export type AuthenticatorOptions = {
  readonly issuers: IssuerRegistry;
  /** Entries per cache (JWT principals, introspection results); 0 turns caching off. */
  readonly cacheEntries: number;
  readonly verifiedCacheMs: number;
  readonly introspectionCacheMs: number;
  readonly inactiveCacheMs: number;
  readonly log?: (msg: string, extra?: object) => void;
};

export type Authenticator = {
  /** `presentation`: how the token came (scheme, DPoP proofs, request); absent = a plain Bearer token without proof. */
  authenticate(token: string, nowMs: number, presentation?: Presentation): Promise<Principal | Refusal>;
  stats(): { readonly jwtCached: number; readonly introspectionCached: number; readonly introspectionInFlight: number; readonly dpopReplayEntries: number };
};

type Introspected = { readonly result: Principal | Refusal };

/** A principal whose tenant the issuer may not speak for → refusal. */
export function tenantRefusal(p: Principal, cfg: IssuerConfig): Refusal | undefined {
  if (cfg.tenants === undefined || cfg.tenants.includes(p.tenant)) return undefined;
  return refuse('GW_ERR_AUTH_TENANT_NOT_ALLOWED', `issuer ${cfg.issuer} may not issue tokens for tenant ${p.tenant}`);
}

/** Two dots: a compact JWS; four: a compact JWE. Anything else is not a JWT. */
function jwtShaped(token: string): boolean {
  let dots = 0;
  for (let i = token.indexOf('.'); i !== -1; i = token.indexOf('.', i + 1)) dots++;
  return dots === 2 || dots === 4;
}

export function createAuthenticator(o: AuthenticatorOptions): Authenticator {
  // A cached principal is honoured only while the key that verified its token is still published.
  const principals = createVerifiedCache<{ principal: Principal; issuer: IssuerConfig; key: KeyRef; keySet: KeySet }>({ max: o.cacheEntries, maxTtlMs: o.verifiedCacheMs });
  const dpop = createDpopChecker();
  const introspected = createVerifiedCache<Introspected>({ max: o.cacheEntries, maxTtlMs: o.introspectionCacheMs });
  const inFlight = new Map<string, Promise<Principal | Refusal>>();
  let heldUntilMs = 0;

  const holds = (e: { key: KeyRef; keySet: KeySet }) => e.keySet.holds(e.key);

  /** The sender constraint, checked on every request (cache hit or not). */
  const constrained = async (p: Principal, issuer: IssuerConfig, token: string, presentation: Presentation, nowMs: number): Promise<Principal | Refusal> => {
    // The common case, a plain bearer token without cnf and no proof: nothing to check.
    if (p.claims.cnf === undefined && presentation.scheme === 'bearer' && presentation.proofs.length === 0 && issuer.dpop?.required !== true) return p;
    return (await dpop.check({ claims: p.claims, issuer, accessToken: token, presentation, nowMs })) ?? p;
  };

  const viaJwt = async (token: string, nowMs: number, presentation: Presentation): Promise<Principal | Refusal> => {
    const cached = principals.get(token, nowMs, holds);
    if (cached) return constrained(cached.principal, cached.issuer, token, presentation, nowMs);
    const verified = await verifyJwt(token, o.issuers);
    if (isRefusal(verified)) return verified;
    const p = principalFromClaims(verified.claims, verified.issuer);
    if (isRefusal(p)) return p;
    const bad = tenantRefusal(p, verified.issuer);
    if (bad) return bad;
    principals.set(token, { principal: p, issuer: verified.issuer, key: verified.key, keySet: verified.keySet }, Number(verified.claims.exp) * 1000, nowMs);
    return constrained(p, verified.issuer, token, presentation, nowMs);
  };

  const introspect = async (state: IssuerState, token: string, nowMs: number): Promise<Principal | Refusal> => {
    const cfg = state.config;
    let res: Readonly<Record<string, unknown>>;
    try {
      res = await o.issuers.introspect(state, token);
    } catch (err) {
      heldUntilMs = nowMs + OUTAGE_HOLD_MS;
      o.log?.('introspection failed; refusing opaque tokens of this issuer for a moment', { issuer: cfg.issuer, error: (err as Error).message });
      return { ...refuse('GW_ERR_AUTH_INTROSPECTION_UNAVAILABLE', `introspection at ${cfg.issuer} failed`), retryAfterSeconds: OUTAGE_HOLD_MS / 1000 };
    }
    const brief = (r: Refusal): Refusal => {
      introspected.set(token, { result: r }, nowMs + o.inactiveCacheMs, nowMs);
      return r;
    };
    const c = claimsOfIntrospection(res, cfg, nowMs);
    if (isRefusal(c)) return brief(c);
    const p = principalFromClaims(c.claims, cfg);
    if (isRefusal(p)) return brief(p);
    const bad = tenantRefusal(p, cfg);
    if (bad) return brief(bad);
    introspected.set(token, { result: p }, c.expiresAtMs ?? Number.POSITIVE_INFINITY, nowMs);
    return p;
  };

  // Introspected tokens are never DPoP-bound (claimsOfIntrospection refuses cnf), but a proof or
  // the DPoP scheme with one, or an issuer with dpop.required, must still be refused.
  const introspectedConstrained = async (r: Principal | Refusal, state: IssuerState, token: string, presentation: Presentation, nowMs: number) =>
    isRefusal(r) ? r : constrained(r, state.config, token, presentation, nowMs);

  const viaIntrospection = async (state: IssuerState, token: string, nowMs: number, presentation: Presentation): Promise<Principal | Refusal> =>
    introspectedConstrained(await introspectOnce(state, token, nowMs), state, token, presentation, nowMs);

  const introspectOnce = async (state: IssuerState, token: string, nowMs: number): Promise<Principal | Refusal> => {
    const cached = introspected.get(token, nowMs);
    if (cached) return cached.result;
    if (nowMs < heldUntilMs) {
      return { ...refuse('GW_ERR_AUTH_INTROSPECTION_UNAVAILABLE', `introspection at ${state.config.issuer} failed moments ago`), retryAfterSeconds: Math.max(1, Math.ceil((heldUntilMs - nowMs) / 1000)) };
    }
    const key = credentialHash(token);
    let p = inFlight.get(key);
    if (!p) {
      p = introspect(state, token, nowMs).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };

  return {
    authenticate(token, nowMs, presentation = PLAIN_BEARER) {
      const opaque = o.issuers.opaqueIssuer();
      return opaque !== undefined && !jwtShaped(token) ? viaIntrospection(opaque, token, nowMs, presentation) : viaJwt(token, nowMs, presentation);
    },
    stats: () => ({ jwtCached: principals.size(), introspectionCached: introspected.size(), introspectionInFlight: inFlight.size, dpopReplayEntries: dpop.replayEntries() }),
  };
}
