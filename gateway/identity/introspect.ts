/**
 * An RFC 7662 introspection response → the claims a Principal is built from, checked the way a
 * JWT's are. Pure: the request itself is the issuer registry's (`IssuerRegistry.introspect`), the
 * caching is `authenticate.ts`'s.
 *
 * - `active` must be `true`; anything else is `auth.token_inactive` (revoked, expired, unknown).
 * - `iss`, when present, must be the issuer asked (the answer came from its own endpoint over an
 *   authenticated channel, so an absent `iss` means that issuer).
 * - `aud` is required and must contain a configured audience: a token issued for another
 *   resource server is not ours, whoever introspects it.
 * - `exp` and `nbf`, when present, are checked with the issuer's clock tolerance.
 * - `token_type`, when present, must be `Bearer`, and a sender-constrained token (`cnf`) is
 *   refused: a DPoP- or mTLS-bound token presented as a plain bearer token is not accepted.
 * - Client-credentials tokens often have no `sub` (oidc-provider, Keycloak): `sub` then is the
 *   `client_id`, as RFC 9068 §2.2 prescribes for JWT access tokens, so they become automation
 *   principals exactly like their JWT equivalents.
 */
import { refuse } from '../errors.ts';
import type { Refusal } from '../types.ts';
import type { IssuerConfig } from '../config/load.ts';

export type IntrospectedClaims = {
  readonly claims: Record<string, unknown>;
  /** From `exp`; absent when the response has none (the cache then uses its maximum TTL). */
  readonly expiresAtMs?: number;
};

export function claimsOfIntrospection(res: Readonly<Record<string, unknown>>, cfg: IssuerConfig, nowMs: number): IntrospectedClaims | Refusal {
  if (res.active !== true) return refuse('GW_ERR_AUTH_TOKEN_INACTIVE');
  const claims: Record<string, unknown> = { ...res };
  delete claims.active;
  if (claims.iss !== undefined && claims.iss !== cfg.issuer) return refuse('GW_ERR_AUTH_ISSUER_UNTRUSTED', 'introspection response names another issuer');
  const aud = claims.aud;
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined;
  if (auds === undefined) return refuse('GW_ERR_AUTH_AUDIENCE_MISMATCH', aud === undefined ? 'introspection response has no aud' : 'introspection aud must be a string or an array of strings');
  const accepted = typeof cfg.audience === 'string' ? [cfg.audience] : cfg.audience;
  if (!auds.some((a) => accepted.includes(a))) return refuse('GW_ERR_AUTH_AUDIENCE_MISMATCH');
  const nowS = nowMs / 1000;
  const tol = cfg.clockToleranceSeconds;
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    if (claims[name] !== undefined && (typeof claims[name] !== 'number' || !Number.isFinite(claims[name]))) return refuse('GW_ERR_AUTH_CLAIMS_INVALID', `claim ${name}: invalid`);
  }
  const exp = claims.exp as number | undefined;
  if (exp !== undefined && exp <= nowS - tol) return refuse('GW_ERR_AUTH_TOKEN_EXPIRED');
  if (typeof claims.nbf === 'number' && claims.nbf > nowS + tol) return refuse('GW_ERR_AUTH_TOKEN_NOT_YET_VALID');
  if (claims.token_type !== undefined && (typeof claims.token_type !== 'string' || claims.token_type.toLowerCase() !== 'bearer')) {
    return refuse('GW_ERR_AUTH_WRONG_TOKEN_TYPE', `token_type ${String(claims.token_type).slice(0, 16)}: only bearer tokens are accepted`);
  }
  if (claims.cnf !== undefined) return refuse('GW_ERR_AUTH_WRONG_TOKEN_TYPE', 'a sender-constrained token (cnf) is not accepted as a bearer token');
  if (claims.sub === undefined && typeof claims.client_id === 'string') claims.sub = claims.client_id;
  return exp === undefined ? { claims } : { claims, expiresAtMs: exp * 1000 };
}
