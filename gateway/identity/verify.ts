/**
 * Verifies a bearer JWT against its issuer's keys with jose and maps every failure to one
 * registry code. Before any key is looked at, the token must be a compact JWS whose header and
 * payload are plain JSON objects without duplicate keys (two parsers could read a claim given
 * twice differently); the token's `iss` then only selects which issuer configuration to verify
 * against, and the algorithm allowlist is checked before key selection, so `none` and HS* never
 * reach it (an HS256 token "signed" with a public key is refused by name).
 *
 * Refused in the header: `crit` (no extension is understood), `b64` (RFC 7797 unencoded payloads),
 * `cty: JWT` (nested JWTs), and, for issuers with `requireAtJwt`, any `typ` but `at+jwt` (RFC 9068:
 * ID tokens are not access tokens). Header-carried key material (`jwk`, `jku`, `x5u`, `x5c`) is
 * never read: the key comes from the issuer's published set only, selected by `kid` and `alg`.
 */
import { jwtVerify, errors as joseErrors } from 'jose';
import { isRefusal, refuse } from '../errors.ts';
import type { Refusal } from '../types.ts';
import type { IssuerRegistry } from './issuers.ts';
import type { IssuerConfig } from '../config/load.ts';
import type { KeyRef, KeySet } from './key-set.ts';
import { safeParseJson } from '../json/safe-parse.ts';

export type Verified = {
  readonly claims: Record<string, unknown>;
  readonly issuer: IssuerConfig;
  readonly kid?: string;
  readonly alg: string;
  /** The key that verified the token and the set it belongs to: a cached verification is tied to them. */
  readonly key: KeyRef;
  readonly keySet: KeySet;
};

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

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const SIGNATURE = /^[A-Za-z0-9_-]*$/;
// fatal: invalid UTF-8 is refused, not replaced (jose would decode it leniently).
const utf8 = new TextDecoder('utf-8', { fatal: true });
const CLAIMS_DEPTH = 32;

/** A base64url segment → a JSON object, refusing anything two parsers could read differently (also used for DPoP proofs). */
export function decodeSegment(segment: string, what: 'header' | 'payload'): Record<string, unknown> | Refusal {
  let text: string;
  try {
    text = utf8.decode(Buffer.from(segment, 'base64url'));
  } catch {
    return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', `token ${what} is not UTF-8`);
  }
  const parsed = safeParseJson(text, { maxDepth: CLAIMS_DEPTH });
  if (!parsed.ok) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', `token ${what}: ${parsed.why}`);
  const v = parsed.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', `token ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Header checks that do not need a key. */
function headerRefusal(header: Record<string, unknown>, cfg: IssuerConfig): Refusal | undefined {
  if (header.crit !== undefined) return refuse('GW_ERR_AUTH_HEADER_UNSUPPORTED', 'header crit: no JWS extension is accepted');
  if (header.b64 !== undefined) return refuse('GW_ERR_AUTH_HEADER_UNSUPPORTED', 'header b64: unencoded payloads (RFC 7797) are not accepted');
  if (header.kid !== undefined && typeof header.kid !== 'string') return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'header kid must be a string');
  if (header.typ !== undefined && typeof header.typ !== 'string') return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'header typ must be a string');
  if (header.cty !== undefined) {
    if (typeof header.cty !== 'string') return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'header cty must be a string');
    if (mediaType(header.cty) === 'jwt') return refuse('GW_ERR_AUTH_HEADER_UNSUPPORTED', 'header cty JWT: nested JWTs are not accepted');
  }
  if (cfg.requireAtJwt) {
    const typ = header.typ === undefined ? undefined : mediaType(header.typ as string);
    if (typ !== 'at+jwt') {
      const what = typ === undefined ? 'no typ' : `typ ${String(header.typ).slice(0, 32)}`;
      return refuse('GW_ERR_AUTH_WRONG_TOKEN_TYPE', `${what}: this issuer's access tokens must have typ at+jwt (RFC 9068); an ID token is not an access token`);
    }
  }
  return undefined;
}

/** `application/at+jwt` and `AT+JWT` → `at+jwt` (RFC 7515 §4.1.9: the prefix may be omitted; media types are case-insensitive). */
function mediaType(v: string): string {
  const lower = v.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

export async function verifyJwt(token: string, issuers: IssuerRegistry): Promise<Verified | Refusal> {
  const parts = token.split('.');
  if (parts.length === 5) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'an encrypted JWT (JWE, 5 parts) is not accepted: send a signed JWT access token');
  if (parts.length !== 3) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'not a compact JWS JWT');
  const [h, p, s] = parts as [string, string, string];
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SIGNATURE.test(s)) return refuse('GW_ERR_AUTH_TOKEN_MALFORMED', 'not a compact JWS JWT (segments must be unpadded base64url)');
  const header = decodeSegment(h, 'header');
  if (isRefusal(header)) return header;
  const payload = decodeSegment(p, 'payload');
  if (isRefusal(payload)) return payload;

  const iss = payload.iss;
  if (typeof iss !== 'string') return refuse('GW_ERR_AUTH_ISSUER_UNTRUSTED', 'token has no iss');
  const state = issuers.find(iss);
  if (!state) return refuse('GW_ERR_AUTH_ISSUER_UNTRUSTED');
  const cfg = state.config;
  const alg = String(header.alg);
  if (!cfg.algorithms.includes(alg as (typeof cfg.algorithms)[number])) {
    return refuse('GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED', `alg ${alg.slice(0, 16)} is not allowed for this issuer`);
  }
  const bad = headerRefusal(header, cfg);
  if (bad) return bad;
  if (!state.keys) return refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', 'issuer discovery has not succeeded yet');

  const kid = header.kid as string | undefined;
  const selected = await state.keys.select({ alg, kid });
  if (!selected.ok) {
    if (selected.why === 'unavailable') return { ...refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', selected.detail), retryAfterSeconds: selected.retryAfterSeconds };
    return selected.why === 'ambiguous' ? refuse('GW_ERR_AUTH_KEY_UNKNOWN', 'token kid matches several keys') : refuse('GW_ERR_AUTH_KEY_UNKNOWN');
  }
  try {
    const { payload: claims } = await jwtVerify(token, selected.key, {
      issuer: cfg.issuer,
      audience: cfg.audience as string | string[],
      algorithms: [...cfg.algorithms],
      clockTolerance: cfg.clockToleranceSeconds,
      requiredClaims: ['exp', 'sub'],
    });
    // jose checks iat only against a maximum age; a token issued in the future is a clock or forgery problem.
    if (typeof claims.iat === 'number' && claims.iat > Date.now() / 1000 + cfg.clockToleranceSeconds) {
      return refuse('GW_ERR_AUTH_TOKEN_NOT_YET_VALID', 'iat is in the future');
    }
    const v: { -readonly [K in keyof Verified]: Verified[K] } = { claims, issuer: cfg, alg, key: selected.ref, keySet: state.keys };
    if (kid !== undefined) v.kid = kid;
    return v;
  } catch (err) {
    return refusalOfJoseError(err);
  }
}
