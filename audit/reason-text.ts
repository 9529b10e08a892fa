/**
 * One line per reason code, in words a reviewer understands, for `explain`. Condensed from the
 * reference tables: gateway reasons from docs/reason-codes.md ("what it means"), policy codes
 * from docs/policies.md → Reason codes ("when"). test/unit/audit/reason-text.test.ts fails when a
 * code of gateway/errors.ts or of the policies.md table has no entry here, or an entry names a
 * code that exists in neither.
 */

export type ReasonKind = 'gateway' | 'policy';

export type ReasonText = { readonly kind: ReasonKind; readonly meaning: string };

const g = (meaning: string): ReasonText => ({ kind: 'gateway', meaning });
const p = (meaning: string): ReasonText => ({ kind: 'policy', meaning });

export const REASON_TEXT: Readonly<Record<string, ReasonText>> = {
  // gateway: canonicalization
  'request.encoded_separator': g('the path has an encoded separator (%2F or %5C), which servers read differently; refused rather than guessed'),
  'request.dot_segment': g('the path has a "." or ".." segment (raw or encoded); never resolved, always refused'),
  'request.path_parameter': g('the path has a ";" parameter, which servlet containers drop and would read differently upstream'),
  'request.control_char': g('the path or query holds a control character (NUL, CR, LF, TAB, DEL, …)'),
  'request.double_encoding': g('the target is percent-encoded twice (e.g. %252F)'),
  'request.bad_encoding': g('the target has malformed percent-encoding, invalid UTF-8 or a character not allowed raw'),
  'request.backslash': g('the path has a raw backslash, a separator to some servers'),
  'request.non_origin_form': g('the request target is not /path?query (the gateway is not a forward proxy)'),
  'request.empty_segment': g('the path has an empty segment (//) or a trailing slash'),
  'request.token_in_query': g('an access token was sent in the query string (RFC 6750 §2.3), which ends up in logs; its value is never logged'),
  'request.token_too_large': g('the bearer token is larger than limits.tokenBytes'),
  'request.header_invalid': g('a request header is malformed, repeated or not allowed (a smuggling attempt shows up here)'),
  'request.no_route': g('no configured upstream prefix matches the path'),
  'request.body_too_large': g('the request body is larger than limits.requestBodyBytes'),
  'request.body_invalid': g('the body is not JSON the gateway can read unambiguously (invalid, duplicate keys, too deep, not an object)'),
  'request.unsupported_media_type': g('a request body that is not declared as JSON'),
  // gateway: authentication
  'auth.token_missing': g('no bearer token was sent'),
  'auth.token_malformed': g('the token is not a well-formed compact JWS JWT (or an opaque token no issuer introspects)'),
  'auth.signature_invalid': g("the token's signature does not verify with the issuer's key"),
  'auth.token_expired': g('the token has expired'),
  'auth.token_not_yet_valid': g('the token is not valid yet (nbf or iat in the future)'),
  'auth.audience_mismatch': g('the token was issued for another audience than this gateway'),
  'auth.issuer_untrusted': g('the token comes from an issuer the gateway does not trust'),
  'auth.algorithm_not_allowed': g("the token's signing algorithm is not allowed for its issuer"),
  'auth.key_unknown': g("no key of the issuer's key set matches the token's key id"),
  'auth.claims_invalid': g('a required claim is missing or has the wrong type'),
  'auth.keys_unavailable': g("the issuer's keys could not be fetched at the time (not the client's fault)"),
  'auth.header_unsupported': g('the token header asks for a JOSE feature the gateway refuses (crit, b64, nested JWT)'),
  'auth.wrong_token_type': g('the token is not an access token (e.g. an ID token)'),
  'auth.token_inactive': g("the issuer's introspection endpoint says the opaque token is not active (revoked, expired, unknown)"),
  'auth.introspection_unavailable': g("the issuer's introspection endpoint could not be reached at the time (not the client's fault)"),
  'auth.tenant_not_allowed': g("the token's tenant is not one its issuer may issue tokens for"),
  'auth.dpop_proof_invalid': g('the DPoP proof (RFC 9449) is missing, fails a check (typ, alg, key, signature, method, URL, time, token hash) or comes twice'),
  'auth.dpop_replayed': g('the DPoP proof was already used (its jti was seen within the window)'),
  'auth.dpop_binding_mismatch': g("the DPoP proof's key is not the one the token is bound to, or the token is not DPoP-bound"),
  'auth.dpop_required': g('the token is sender-constrained and must be presented with the DPoP scheme and a proof'),
  'auth.mtls_unsupported': g('a certificate-bound token (RFC 8705) that the gateway cannot check, as it does not terminate mutual TLS'),
  'auth.mtls_binding_mismatch': g('a certificate-bound token (RFC 8705) presented without the verified client certificate it is bound to (another certificate, or none)'),
  // gateway: resource resolution
  'resource.unknown_route': g('the adapter does not know this route; unknown routes are never passed through'),
  'resource.method_not_allowed': g('the route exists, but not for this method'),
  'resource.bad_query': g('the adapter cannot understand the query'),
  'resource.not_found': g('the record does not exist or the subject may not see it; the same answer either way, so existence is never confirmed'),
  'resource.row_fields_missing': g("the request's field list leaves out fields the policy's row condition reads, so every row would be dropped"),
  // gateway: policy, log
  'policy.denied': g('the policy said no; its own reason codes say why'),
  'policy.error': g('the policy could not be evaluated (Wasm trap, no result, or a result that breaks the decision contract); denied'),
  'audit.write_failed': g('the decision log could not be written, so the request was refused (fail closed)'),
  'audit.mask_failed': g("the policy bundle's decision-log mask rule (system.log.mask) failed or returned something malformed, so the request was refused rather than logging the unmasked input"),
  // gateway: upstream and response filter
  'upstream.connect_timeout': g('no connection to the upstream within timeouts.connectMs'),
  'upstream.timeout': g('the upstream did not answer (or finish its body) in time'),
  'upstream.unreachable': g('the upstream could not be reached (refused, reset, DNS, TLS) or its body could not be read'),
  'upstream.token_exchange_failed': g('the token for the upstream could not be obtained (RFC 8693 token exchange failed); nothing was forwarded'),
  'upstream.not_json': g('a route whose response must be filtered answered with a non-JSON body; never passed through'),
  'upstream.body_too_large': g('a filtered response was larger than limits.responseBodyBytes'),
  'upstream.body_unparseable': g('a filtered response could not be parsed safely'),
  'upstream.encoding_unsupported': g('a filtered response used a content encoding the gateway does not decode'),
  'upstream.unexpected_shape': g('the response does not have the shape the adapter expects; never passed through'),
  'internal.error': g('an unexpected error in the gateway; refused'),

  // policy (docs/policies.md → Reason codes)
  'allow.role': p('a role of the user grants this action on this object'),
  'allow.scope': p('a scope of the automation grants this action on this object'),
  'subject.tenant_missing': p('the subject carries no tenant'),
  'resource.unclassified': p('the object is not in the data classification catalog'),
  'action.not_permitted': p('no role (users) or scope (automations) grants this action on this object'),
  'automation.object_forbidden': p('automations may never take this action on this object, whatever their scopes'),
  'tenant.missing': p('a new record must set the tenant field to the subject\'s tenant'),
  'tenant.mismatch': p("the record belongs (or would be moved) to another tenant than the subject's"),
  'tenant.unverifiable': p('the stored record could not be fetched, so its tenant could not be checked'),
  'region.none': p('the subject is entitled to no region'),
  'region.missing': p("a new record must set the region field to one of the subject's regions"),
  'region.not_entitled': p("the record is (or would be) in a region outside the subject's regions"),
  'classification.filter_forbidden': p("the request filters or sorts on a field classified above the subject's clearance"),
  'device.unmanaged': p('restricted data needs a managed, compliant device; this device is unknown or unmanaged'),
  'device.noncompliant': p('restricted data needs a managed, compliant device; this device is managed but not compliant'),
  'automation.discount_limit': p("the automation sets a discount above its limit"),
  'request.discount_invalid': p('the discount is not a number'),
  'policy.default_deny': p('safety net: no rule allowed the request and no deny reason held (should never be seen)'),
};

/** The one-line meaning of a code, or undefined for a code this table does not know. */
export function reasonMeaning(code: string): string | undefined {
  return Object.hasOwn(REASON_TEXT, code) ? REASON_TEXT[code]!.meaning : undefined;
}
