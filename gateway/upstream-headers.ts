/**
 * The headers sent upstream: the canonical request's headers (client identity/posture and
 * hop-by-hop headers already stripped by canonicalization), minus the credentials the upstream
 * must not see, plus the gateway's identity headers, set last so nothing a client sent can
 * shadow them (and, for an upstream with token exchange, the exchanged token as the only
 * `Authorization`), and the gateway's own `x-forwarded-for` / `forwarded` (RFC 7239) naming the client
 * address it determined. Pure.
 */
import type { CanonicalRequest, Principal } from './types.ts';
import { isDecodable } from './response-filter.ts';

export const GATEWAY_HEADERS = {
  subject: 'x-gateway-subject',
  tenant: 'x-gateway-tenant',
  clientId: 'x-gateway-client-id',
  decisionId: 'x-gateway-decision-id',
} as const;

/** Salesforce's DuplicateRuleHeader (`allowSave=true; includeRecordDetails=true; runAsCurrentUser=true`). */
const DUPLICATE_RULE_HEADER = 'sforce-duplicate-rule-header';

/**
 * The part of a client's duplicate-rule header that stays its own: runAsCurrentUser (true/false).
 * Dropped: includeRecordDetails, which asks Salesforce to put the matching records, of any
 * tenant, into the answer; and allowSave, because a save past an alert-level rule answers 2xx
 * with the matching record ids, and 2xx write answers are streamed as sent (error answers are
 * reduced). Through the gateway, the org's alert-level rules therefore block such saves.
 */
export function ownDuplicateRuleChoices(value: string): string {
  const kept: string[] = [];
  for (const part of value.split(';')) {
    const m = /^\s*runAsCurrentUser\s*=\s*(true|false)\s*$/i.exec(part);
    if (m) kept.push(`runAsCurrentUser=${m[1]!.toLowerCase()}`);
  }
  return kept.join('; ');
}

/** The codings of an Accept-Encoding value (with their q) that the gateway can decode; '' for none. */
export function decodableCodings(value: string): string {
  return value
    .split(',')
    .map((c) => c.trim())
    .filter((c) => isDecodable(c.split(';')[0]!.trim().toLowerCase()))
    .join(', ');
}

export function upstreamHeaders(a: {
  req: CanonicalRequest;
  principal: Principal;
  decisionId: string;
  postureHeader: string;
  forwardAuthorization: boolean;
  /**
   * The response will be parsed and filtered: ask for an unencoded, whole, fresh body (no
   * compression, no Range, no conditional request that could answer 304 without a body).
   */
  filtered: boolean;
  /** RFC 8693: a token exchanged for this upstream, sent as `Authorization: Bearer` instead of anything the caller sent. */
  exchangedToken?: string;
}): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [name, value] of a.req.headers) h[name] = value;
  delete h.host; // reply-from sets the upstream's host
  delete h[a.postureHeader];
  // The DPoP proof goes with the token: both are credentials of the caller at the gateway.
  if (!a.forwardAuthorization || a.exchangedToken !== undefined) {
    delete h.authorization;
    delete h.dpop;
  }
  if (a.filtered) {
    for (const name of ['range', 'if-range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']) delete h[name];
    h['accept-encoding'] = 'identity';
  } else if (h['accept-encoding'] !== undefined) {
    // Unfiltered answers are streamed as sent, but their error answers are decoded and reduced
    // (adapter errorBody): only codings the gateway can decode may be asked for.
    // None left: identity, not no header (which would allow any coding, RFC 9110 §12.5.3).
    const codings = decodableCodings(h['accept-encoding']);
    h['accept-encoding'] = codings === '' ? 'identity' : codings;
  }
  const dup = h[DUPLICATE_RULE_HEADER];
  if (dup !== undefined) {
    const kept = ownDuplicateRuleChoices(dup);
    if (kept === '') delete h[DUPLICATE_RULE_HEADER];
    else h[DUPLICATE_RULE_HEADER] = kept;
  }
  // The client's forwarding headers were stripped at canonicalization; these are the gateway's
  // own, naming the client address it determined (the peer, or what a trusted proxy said).
  if (a.req.clientAddress !== undefined && a.req.clientAddress !== '') {
    h['x-forwarded-for'] = a.req.clientAddress;
    h.forwarded = `for=${a.req.clientAddress.includes(':') ? `"[${a.req.clientAddress}]"` : a.req.clientAddress}`;
  }
  for (const name of Object.values(GATEWAY_HEADERS)) delete h[name];
  h[GATEWAY_HEADERS.subject] = a.principal.subject;
  h[GATEWAY_HEADERS.tenant] = a.principal.tenant;
  if (a.principal.clientId !== undefined) h[GATEWAY_HEADERS.clientId] = a.principal.clientId;
  h[GATEWAY_HEADERS.decisionId] = a.decisionId;
  if (a.exchangedToken !== undefined) h.authorization = `Bearer ${a.exchangedToken}`;
  return h;
}
