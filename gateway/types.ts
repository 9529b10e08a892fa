/**
 * The plain values every pipeline stage passes along. Nothing here knows about fastify, undici,
 * jose or the file system: the shell (gateway/server.ts) translates the transport into these
 * once, and every later stage works on them only.
 */

/** One refusal: a registry code (see gateway/errors.ts) plus optional detail for the client. */
export type Refusal = {
  readonly refusal: true;
  readonly code: import('./errors.ts').ErrorCode;
  /** Human-readable detail; never contains a credential. */
  readonly detail?: string;
  /** Extra reasons (e.g. the policy's own) to list in the problem body and the log. */
  readonly reasons?: readonly Reason[];
  /** For 503 answers: when a retry may succeed (the Retry-After header); 5 s when absent. */
  readonly retryAfterSeconds?: number;
};

export type Reason = { readonly code: string; readonly message: string };

/** The request as every stage after canonicalization sees it. */
export type CanonicalRequest = {
  readonly method: string;
  /** Name of the upstream whose route prefix matched. */
  readonly upstream: string;
  /**
   * The upstream-relative path, exactly as it is sent upstream and shown to the policy
   * (the gateway's route prefix removed, nothing decoded or re-encoded).
   */
  readonly path: string;
  /** Path segments, percent-decoded once (safe: canonicalization refused anything ambiguous). */
  readonly segments: readonly string[];
  /** The raw query string without the leading '?', forwarded byte for byte ('' when none). */
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names; client identity/posture headers and hop-by-hop headers removed. */
  readonly headers: ReadonlyMap<string, string>;
  /**
   * The client's address as the gateway determined it (gateway/client-address.ts: the TCP peer,
   * or what a trusted proxy says); sent upstream in the gateway's own forwarding headers.
   */
  readonly clientAddress?: string;
};

export type Principal = {
  readonly kind: 'user' | 'automation';
  readonly subject: string;
  readonly tenant: string;
  readonly issuer: string;
  readonly clientId?: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly regions: readonly string[];
  /** Highest data class the subject is cleared for ('public' | 'internal' | 'confidential' | 'restricted'). */
  readonly clearance: string;
  readonly claims: Readonly<Record<string, unknown>>;
};

export type PostureRisk = 'low' | 'medium' | 'high';

/** What a verified posture assertion says (cached); `age_s` is added at use (see `Posture`). */
export type DevicePosture = { readonly managed: boolean; readonly compliant: boolean; readonly platform: string; readonly risk?: PostureRisk };

/**
 * The policy's `input.device`: `risk` only when the assertion's `risk` claim is low/medium/high;
 * `age_s` = now − the assertion's `iat`, in whole seconds, computed per request (never cached).
 */
export type Posture = (DevicePosture & { readonly age_s: number }) | 'unknown';

export type Action = 'read' | 'list' | 'create' | 'update' | 'delete';

export type Resource = {
  /** Adapter name from the registry (adapters/registry.ts). */
  readonly adapter: string;
  /** CRM object type, e.g. 'Contact', 'Opportunity', 'Quote'. */
  readonly object: string;
  readonly id?: string;
  readonly action: Action;
  /** Fields named by the request (a SOQL SELECT list), when the adapter can tell. */
  readonly fields?: readonly string[];
  /**
   * Fields the request filters or sorts on (a SOQL WHERE / ORDER BY), plain or dotted as
   * written; absent when none. Whether and in which order rows come back reveals their values,
   * so the policy checks them like read fields. An adapter that cannot tell refuses the request.
   */
  readonly filterFields?: readonly string[];
  /** Decision-relevant body fields of a write (e.g. a Quote's Discount), never the whole body. */
  readonly body?: Readonly<Record<string, unknown>>;
  /** Whether the response carries records that must go through the response filter. */
  readonly filtered: boolean;
};

/** A UCAST condition as produced by OPA's compile API and by our policies. */
export type UcastCondition =
  | {
      readonly type: 'field';
      readonly field: string;
      readonly operator: 'eq' | 'ne' | 'in' | 'nin' | 'lt' | 'lte' | 'gt' | 'gte';
      readonly value: unknown;
    }
  | {
      readonly type: 'compound';
      readonly operator: 'and' | 'or' | 'not';
      readonly value: readonly UcastCondition[];
    };

/** OPA column-mask shape plus `remove`. */
export type FieldRule = { readonly remove: Record<string, never> } | { readonly replace: { readonly value: unknown } };

export type Obligations = {
  readonly rows?: UcastCondition;
  /** object type → field name → rule */
  readonly fields?: Readonly<Record<string, Readonly<Record<string, FieldRule>>>>;
};

export type Decision = {
  readonly allow: boolean;
  readonly reasons: readonly Reason[];
  readonly obligations: Obligations;
};

/** What the response filter did, for the outcome record. */
export type FilterReport = {
  readonly rowsIn: number;
  readonly rowsOut: number;
  /** object type → sorted field names that were masked (replaced) / removed */
  readonly masked: Readonly<Record<string, readonly string[]>>;
  readonly removed: Readonly<Record<string, readonly string[]>>;
  /** object type → sorted unique ids of the records delivered (kept rows only, children and parents included) */
  readonly ids: Readonly<Record<string, readonly string[]>>;
  /** object type → sorted field names delivered with their stored value (not masked, not removed; relationships and `attributes` excluded) */
  readonly delivered: Readonly<Record<string, readonly string[]>>;
};
