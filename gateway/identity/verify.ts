/**
 * Verifies a bearer JWT against its issuer's keys with jose and maps every failure to one
 * registry code. The token's `iss` only selects which issuer configuration to verify against;
 * the algorithm allowlist is checked before any key is fetched, so `none` and HS* never reach
 * key selection (an HS256 token "signed" with a public key is refused by name).
 */
import { decodeProtectedHeader, decodeJwt, jwtVerify, errors as joseErrors } from 'jose';
import { refuse } from '../errors.ts';
import type { Refusal } from '../types.ts';
import type { IssuerRegistry } from './issuers.ts';
import type { IssuerConfig } from '../config/load.ts';

export type Verified = { readonly claims: Record<string, unknown>; readonly issuer: IssuerConfig; readonly kid?: string; readonly alg: string };

/** jose error → registry refusal. Exported for unit tests. */
export function refusalOfJoseError(err: unknown): Refusal {
  if (err instanceof joseErrors.JWTExpired) return refuse('GW_ERR_AUTH_TOKEN_EXPIRED');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    // jose says 'invalid' for a time claim of the wrong type (nbf: "tomorrow"): malformed, not early.
    if (err.reason === 'invalid') return refuse('GW_ERR_AUTH_CLAIMS_INVALID', `claim ${err.claim}: invalid`);
    switch (err.claim) {
      case 'nbf':
        return refuse('GW_ERR_AUTH_TOKEN_NOT_YET_VALID');
      case 'aud':
        return refuse('GW_ERR_AUTH_AUDIENCE_MISMATCH');
      case 'iss':
        return refuse('GW_ERR_AUTH_ISSUER_UNTRUSTED');
      case 'iat':
        return refuse('GW_ERR_AUTH_TOKEN_NOT_YET_VALID', 'iat is in the future');
      default:
        return refuse('GW_ERR_AUTH_CLAIMS_INVALID', `claim ${err.claim}: ${err.reason}`);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return refuse('GW_ERR_AUTH_SIGNATURE_INVALID');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return refuse('GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return refuse('GW_ERR_AUTH_KEY_UNKNOWN');
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return refuse('GW_ERR_AUTH_KEY_UNKNOWN', 'token kid matches several keys');
  if (err instanceof joseErrors.JWKSTimeout) return refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', 'issuer key set timed out');
  if (err instanceof joseErrors.JWKSInvalid) return refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', 'issuer key set is invalid');
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JOSENotSupported) {
    return refuse('GW_ERR_AUTH_TOKEN_MALFORMED');
  }
  if (err instanceof joseErrors.JOSEError) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', err.code);
  // Not a JOSE error: the key fetch itself failed (network, HTTP status). Not the caller's fault.
  return refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', 'issuer key set cannot be fetched');
}

export async function verifyJwt(token: string, issuers: IssuerRegistry): Promise<Verified | Refusal> {
  let alg: string;
  let kid: string | undefined;
  let iss: unknown;
  try {
    const header = decodeProtectedHeader(token);
    alg = String(header.alg);
    kid = typeof header.kid === 'string' ? header.kid : undefined;
    iss = decodeJwt(token).iss;
  } catch {
    return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'not a compact JWS JWT');
  }
  if (token.split('.').length !== 3) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'not a compact JWS JWT');
  if (typeof iss !== 'string') return refuse('GW_ERR_AUTH_ISSUER_UNTRUSTED', 'token has no iss');
  const state = issuers.find(iss);
  if (!state) return refuse('GW_ERR_AUTH_ISSUER_UNTRUSTED');
  const cfg = state.config;
  if (!cfg.algorithms.includes(alg as (typeof cfg.algorithms)[number])) {
    return refuse('GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', `alg ${alg.slice(0, 16)} is not allowed for this issuer`);
  }
  if (!state.keys) return refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', 'issuer discovery has not succeeded yet');
  try {
    const { payload } = await jwtVerify(token, state.keys, {
      issuer: cfg.issuer,
      audience: cfg.audience as string | string[],
      algorithms: [...cfg.algorithms],
      clockTolerance: cfg.clockToleranceSeconds,
      requiredClaims: ['exp', 'sub'],
    });
    const v: { claims: Record<string, unknown>; issuer: IssuerConfig; alg: string; kid?: string } = { claims: payload, issuer: cfg, alg };
    if (kid !== undefined) v.kid = kid;
    return v;
  } catch (err) {
    return refusalOfJoseError(err);
  }
}
