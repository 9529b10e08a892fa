/**
 * The one error registry. Every refusal the gateway can answer is listed here once: its code
 * (`GW_ERR_<SUBSYSTEM>_<WHAT>`, for code and logs), its stable dotted reason (for clients, the
 * decision log and policies), its HTTP status and a title. Codes and reasons are never reused
 * for another meaning once released; docs/reason-codes.md is checked against this table by a test.
 */
import type { Reason, Refusal } from './types.ts';

type Entry = { readonly reason: string; readonly status: number; readonly title: string };

export const ERRORS = {
  // request canonicalization: ambiguous requests are refused, never normalized away
  GW_ERR_REQ_ENCODED_SEPARATOR: { reason: 'request.encoded_separator', status: 400, title: 'Encoded path separator (%2F or %5C) in the path' },
  GW_ERR_REQ_DOT_SEGMENT: { reason: 'request.dot_segment', status: 400, title: 'Dot segment (raw or encoded) in the path' },
  GW_ERR_REQ_PATH_PARAMETER: { reason: 'request.path_parameter', status: 400, title: 'Path parameter (;) in the path' },
  GW_ERR_REQ_CONTROL_CHAR: { reason: 'request.control_char', status: 400, title: 'NUL, CR, LF or another control character in the target' },
  GW_ERR_REQ_DOUBLE_ENCODING: { reason: 'request.double_encoding', status: 400, title: 'Double percent-encoding in the target' },
  GW_ERR_REQ_BAD_ENCODING: { reason: 'request.bad_encoding', status: 400, title: 'Malformed percent-encoding or non-UTF-8 bytes in the target' },
  GW_ERR_REQ_BACKSLASH: { reason: 'request.backslash', status: 400, title: 'Backslash in the path' },
  GW_ERR_REQ_NON_ORIGIN_FORM: { reason: 'request.non_origin_form', status: 400, title: 'Request target is not in origin form' },
  GW_ERR_REQ_EMPTY_SEGMENT: { reason: 'request.empty_segment', status: 400, title: 'Empty path segment (//) in the path' },
  GW_ERR_REQ_HEADER_INVALID: { reason: 'request.header_invalid', status: 400, title: 'A request header is malformed, repeated or not allowed' },
  GW_ERR_REQ_NO_ROUTE: { reason: 'request.no_route', status: 404, title: 'No upstream is configured for this path' },
  GW_ERR_REQ_BODY_TOO_LARGE: { reason: 'request.body_too_large', status: 413, title: 'Request body exceeds the configured limit' },
  GW_ERR_REQ_BODY_INVALID: { reason: 'request.body_invalid', status: 400, title: 'Request body is not valid JSON' },
  GW_ERR_REQ_UNSUPPORTED_MEDIA: { reason: 'request.unsupported_media_type', status: 415, title: 'A write must carry an application/json body' },
  GW_ERR_REQ_TOKEN_TOO_LARGE: { reason: 'request.token_too_large', status: 431, title: 'Bearer token exceeds the configured size limit' },

  // authentication (RFC 6750 error="invalid_token" unless said otherwise)
  GW_ERR_AUTH_TOKEN_MISSING: { reason: 'auth.token_missing', status: 401, title: 'No bearer token' },
  GW_ERR_AUTH_TOKEN_MALFORMED: { reason: 'auth.token_malformed', status: 401, title: 'Bearer token is malformed' },
  GW_ERR_AUTH_SIGNATURE_INVALID: { reason: 'auth.signature_invalid', status: 401, title: 'Token signature does not verify' },
  GW_ERR_AUTH_TOKEN_EXPIRED: { reason: 'auth.token_expired', status: 401, title: 'Token has expired' },
  GW_ERR_AUTH_TOKEN_NOT_YET_VALID: { reason: 'auth.token_not_yet_valid', status: 401, title: 'Token is not yet valid' },
  GW_ERR_AUTH_AUDIENCE_MISMATCH: { reason: 'auth.audience_mismatch', status: 401, title: 'Token audience is not this gateway' },
  GW_ERR_AUTH_ISSUER_UNTRUSTED: { reason: 'auth.issuer_untrusted', status: 401, title: 'Token issuer is not trusted' },
  GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED: { reason: 'auth.algorithm_not_allowed', status: 401, title: 'Token algorithm is not allowed for this issuer' },
  GW_ERR_AUTH_KEY_UNKNOWN: { reason: 'auth.key_unknown', status: 401, title: 'Token key id is not in the issuer key set' },
  GW_ERR_AUTH_CLAIMS_INVALID: { reason: 'auth.claims_invalid', status: 401, title: 'Token lacks a required claim or a claim has the wrong type' },
  GW_ERR_AUTH_KEYS_UNAVAILABLE: { reason: 'auth.keys_unavailable', status: 503, title: 'Issuer keys cannot be fetched right now' },
  GW_ERR_AUTH_HEADER_UNSUPPORTED: { reason: 'auth.header_unsupported', status: 401, title: 'Token header asks for a JOSE feature the gateway refuses (crit, b64, nested JWT)' },
  GW_ERR_AUTH_WRONG_TOKEN_TYPE: { reason: 'auth.wrong_token_type', status: 401, title: 'Token is not an access token (RFC 9068 typ at+jwt required)' },
  GW_ERR_AUTH_TOKEN_INACTIVE: { reason: 'auth.token_inactive', status: 401, title: 'Opaque token is not active (RFC 7662 introspection)' },
  GW_ERR_AUTH_INTROSPECTION_UNAVAILABLE: { reason: 'auth.introspection_unavailable', status: 503, title: 'Token introspection endpoint cannot be reached right now' },
  GW_ERR_AUTH_TENANT_NOT_ALLOWED: { reason: 'auth.tenant_not_allowed', status: 401, title: 'Token issuer may not issue tokens for this tenant' },
  // sender-constrained tokens (RFC 9449 DPoP: WWW-Authenticate DPoP error="invalid_dpop_proof" / "invalid_token")
  GW_ERR_AUTH_DPOP_PROOF_INVALID: { reason: 'auth.dpop_proof_invalid', status: 401, title: 'DPoP proof is missing a check (typ, alg, jwk, signature, htm, htu, iat, ath) or there is more than one' },
  GW_ERR_AUTH_DPOP_REPLAYED: { reason: 'auth.dpop_replayed', status: 401, title: 'DPoP proof was already used (jti seen within the window)' },
  GW_ERR_AUTH_DPOP_BINDING_MISMATCH: { reason: 'auth.dpop_binding_mismatch', status: 401, title: 'DPoP proof key does not match the token binding (cnf.jkt), or the token is not DPoP-bound' },
  GW_ERR_AUTH_DPOP_REQUIRED: { reason: 'auth.dpop_required', status: 401, title: 'Token must be presented with the DPoP scheme and a proof' },
  GW_ERR_AUTH_MTLS_UNSUPPORTED: { reason: 'auth.mtls_unsupported', status: 401, title: 'Certificate-bound token (RFC 8705) cannot be checked: the gateway does not terminate mutual TLS' },
  GW_ERR_AUTH_MTLS_BINDING_MISMATCH: { reason: 'auth.mtls_binding_mismatch', status: 401, title: 'Certificate-bound token (RFC 8705) without the verified client certificate it is bound to (cnf x5t#S256)' },

  // resource resolution
  GW_ERR_RES_UNKNOWN_ROUTE: { reason: 'resource.unknown_route', status: 404, title: 'The adapter does not know this route' },
  GW_ERR_RES_METHOD_NOT_ALLOWED: { reason: 'resource.method_not_allowed', status: 405, title: 'Method not supported on this route' },
  GW_ERR_RES_BAD_QUERY: { reason: 'resource.bad_query', status: 400, title: 'Query cannot be understood by the adapter' },
  GW_ERR_RES_ROW_FIELDS_MISSING: { reason: 'resource.row_fields_missing', status: 400, title: 'The request does not select the fields the row filter needs' },
  GW_ERR_REQ_TOKEN_IN_QUERY: { reason: 'request.token_in_query', status: 400, title: 'Access token in the query string (RFC 6750 §2.3) is refused' },
  GW_ERR_RES_RECORD_HIDDEN: { reason: 'resource.not_found', status: 404, title: 'Record not found' },

  // policy
  GW_ERR_POLICY_DENIED: { reason: 'policy.denied', status: 403, title: 'Denied by policy' },
  GW_ERR_POLICY_ERROR: { reason: 'policy.error', status: 500, title: 'Policy could not be evaluated; denied' },

  // decision log
  GW_ERR_AUDIT_WRITE_FAILED: { reason: 'audit.write_failed', status: 503, title: 'Decision log cannot be written; request refused' },
  GW_ERR_AUDIT_MASK_FAILED: { reason: 'audit.mask_failed', status: 503, title: 'Decision-log mask rule (system.log.mask) failed; request refused' },

  // upstream and response filter
  GW_ERR_UPSTREAM_CONNECT_TIMEOUT: { reason: 'upstream.connect_timeout', status: 504, title: 'Upstream connection timed out' },
  GW_ERR_UPSTREAM_TIMEOUT: { reason: 'upstream.timeout', status: 504, title: 'Upstream did not answer in time' },
  GW_ERR_UPSTREAM_UNREACHABLE: { reason: 'upstream.unreachable', status: 502, title: 'Upstream cannot be reached' },
  GW_ERR_UPSTREAM_TOKEN_EXCHANGE_FAILED: { reason: 'upstream.token_exchange_failed', status: 502, title: 'The token for the upstream could not be obtained (RFC 8693 token exchange failed)' },
  GW_ERR_UPSTREAM_NOT_JSON: { reason: 'upstream.not_json', status: 502, title: 'Upstream answered a filtered route, or with an error, in a non-JSON body' },
  GW_ERR_UPSTREAM_BODY_TOO_LARGE: { reason: 'upstream.body_too_large', status: 502, title: 'Upstream body exceeds the filter limit' },
  GW_ERR_UPSTREAM_BODY_UNPARSEABLE: { reason: 'upstream.body_unparseable', status: 502, title: 'Upstream body cannot be parsed safely' },
  GW_ERR_UPSTREAM_ENCODING: { reason: 'upstream.encoding_unsupported', status: 502, title: 'Upstream body uses an unsupported content encoding' },
  GW_ERR_UPSTREAM_SHAPE: { reason: 'upstream.unexpected_shape', status: 502, title: 'Upstream body does not have the shape the adapter expects' },

  GW_ERR_INTERNAL_ERROR: { reason: 'internal.error', status: 500, title: 'Internal error; request refused' },
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof ERRORS;

/** Build a refusal value. Stages return these instead of throwing. */
export function refuse(code: ErrorCode, detail?: string, reasons?: readonly Reason[]): Refusal {
  const r: { refusal: true; code: ErrorCode; detail?: string; reasons?: readonly Reason[] } = { refusal: true, code };
  if (detail !== undefined) r.detail = detail;
  if (reasons !== undefined) r.reasons = reasons;
  return r;
}

export function isRefusal(v: unknown): v is Refusal {
  return typeof v === 'object' && v !== null && (v as { refusal?: unknown }).refusal === true;
}

/** The reasons a refusal stands for: the policy's own when it gave some, else the registry reason. */
export function reasonsOf(r: Refusal): Reason[] {
  if (r.reasons && r.reasons.length > 0) return [...r.reasons];
  return [{ code: ERRORS[r.code].reason, message: r.detail ?? ERRORS[r.code].title }];
}

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: ErrorCode;
  reason: string;
  reasons: Reason[];
  decision_id?: string;
};

/** RFC 9457 problem details for a refusal. `type` is a stable URN per reason code. */
export function problemOf(r: Refusal, decisionId?: string): Problem {
  const e = ERRORS[r.code];
  const p: Problem = {
    type: `urn:crm-gateway:problem:${e.reason}`,
    title: e.title,
    status: e.status,
    code: r.code,
    reason: e.reason,
    reasons: reasonsOf(r),
  };
  if (r.detail !== undefined) p.detail = r.detail;
  if (decisionId !== undefined) p.decision_id = decisionId;
  return p;
}
