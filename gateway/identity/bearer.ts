/**
 * Extracts the bearer token from the Authorization header (RFC 6750 §2.1). Pure.
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
  const token = m[1]!;
  if (token.length > maxBytes) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', `token longer than ${maxBytes} bytes`);
  if (!B64TOKEN.test(token)) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'token has characters outside RFC 6750 b64token');
  return token;
}
