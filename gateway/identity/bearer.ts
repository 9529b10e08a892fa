/**
 * Extracts the bearer token from the Authorization header (RFC 6750 §2.1), or checks one taken
 * from the query (§2.3, only when `proxy.allowQueryToken`). Pure.
 */
import { refuse } from '../errors.ts';
import type { Refusal } from '../types.ts';

// RFC 6750 b64token, with the three dot-separated parts of a compact JWS in mind.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function bearerToken(authorization: string | undefined, maxBytes: number): string | Refusal {
  if (authorization === undefined || authorization === '') return refuse('GW_ERR_AUTH_TOKEN_MISSING');
  const m = /^Bearer +(\S+)$/i.exec(authorization);
  if (!m) {
    // Node joins repeated Authorization headers with ", ": two credentials are never one.
    return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'Authorization must be "Bearer <token>" (one token)');
  }
  return checkedToken(m[1]!, maxBytes);
}

/**
 * The access token and its scheme from the Authorization header: `Bearer <token>` (RFC 6750) or
 * `DPoP <token>` (RFC 9449 §7.1); schemes are case-insensitive (RFC 9110 §11.1).
 */
export function authorizationToken(authorization: string | undefined, maxBytes: number): { scheme: 'bearer' | 'dpop'; token: string } | Refusal {
  if (authorization === undefined || authorization === '') return refuse('GW_ERR_AUTH_TOKEN_MISSING');
  const m = /^(Bearer|DPoP) +(\S+)$/i.exec(authorization);
  if (!m) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'Authorization must be "Bearer <token>" or "DPoP <token>" (one token)');
  const token = checkedToken(m[2]!, maxBytes);
  if (typeof token !== 'string') return token;
  return { scheme: m[1]!.toLowerCase() === 'dpop' ? 'dpop' : 'bearer', token };
}

/**
 * The token's size and alphabet. Too long is 431 (RFC 6585: a header field too large), not 401:
 * the request is refused for its size before the token is read, and clients and dashboards must
 * tell an oversized header from a bad credential.
 */
export function checkedToken(token: string, maxBytes: number): string | Refusal {
  if (token === '') return refuse('GW_ERR_AUTH_TOKEN_MISSING');
  if (token.length > maxBytes) return refuse('GW_ERR_REQ_TOKEN_TOO_LARGE', `token longer than ${maxBytes} bytes`);
  if (!B64TOKEN.test(token)) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'token has characters outside RFC 6750 b64token');
  return token;
}
