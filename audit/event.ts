/**
 * The decision-log records (v1). Field names follow OPA's decision-log event (decision_id,
 * timestamp, path, input, result, bundles, erased, labels) so tooling that reads OPA's log reads
 * ours; `reasons`, `stage` and the outcome and recovery records are ours. docs/decision-log.md
 * lists every field. The writer adds the chain fields `seq` and `prev` (audit/chain.ts) to each.
 */
import type { FilterReport, Reason } from '../gateway/types.ts';

export type Labels = { readonly instance_id: string; readonly version: string; readonly gateway_region: string };

/** Written before anything is forwarded, for every request that gets an answer (allowed or not). */
export type DecisionRecord = {
  readonly kind: 'decision';
  readonly v: 1;
  readonly decision_id: string;
  readonly timestamp: string;
  /** Policy entrypoint; for refusals before the policy ran, the same path (nothing was evaluated). */
  readonly path: string;
  readonly bundles: { readonly policy: { readonly revision: string } };
  readonly labels: Labels;
  /** 'policy' when the Wasm policy decided; otherwise the gateway stage that refused. */
  readonly decided_by: 'policy' | 'canonicalize' | 'authenticate' | 'resolve' | 'gateway';
  readonly input: unknown;
  /** The policy's result as returned (after the contract check); null when the policy did not run. */
  readonly result: unknown;
  readonly allow: boolean;
  readonly reasons: readonly Reason[];
  /** HTTP status of the answer when the request was refused here (absent when allowed). */
  readonly status?: number;
  /**
   * The reason the client was given when it differs from `reasons` (e.g. `resource.not_found`
   * for a write to another tenant's record: the client must not learn that the record exists).
   */
  readonly answered?: string;
  /**
   * JSON Pointers of input values erased before writing: `decisionLog.erase` pointers (relative to
   * the input, "/request/query/q") and the bundle's system.log.mask pointers ("/input/…").
   */
  readonly erased: readonly string[];
  /** Pointers ("/input/…") whose value a system.log.mask upsert replaced; absent when none. */
  readonly masked?: readonly string[];
  /** Present (true) when the input was longer than decisionLog.maxInputBytes and replaced by a stub. */
  readonly input_truncated?: true;
  /** What else the decision rested on, for reviewers; not part of the policy input. */
  readonly provenance: { readonly bundle_sha256: string; readonly posture?: string; readonly gateway_version: string };
};

/** Written before the response body is released to the client. */
export type OutcomeRecord = {
  readonly kind: 'outcome';
  readonly v: 1;
  readonly decision_id: string;
  readonly timestamp: string;
  readonly labels: Labels;
  readonly upstream: { readonly name: string; readonly status: number; readonly latency_ms: number };
  /** Status the client received (may differ from upstream: e.g. 404 for a hidden record). */
  readonly status: number;
  readonly reason?: string;
  readonly filter?: {
    readonly rows_in: number;
    readonly rows_out: number;
    readonly fields_masked: FilterReport['masked'];
    readonly fields_removed: FilterReport['removed'];
    /** Object type → sorted ids of the records the client received (kept rows only). */
    readonly records: FilterReport['ids'];
    /** Object type → sorted names of the fields delivered with their stored value. */
    readonly fields_delivered: FilterReport['delivered'];
  };
  /** Present for a non-2xx JSON answer: what was dropped from the error body (adapter errorBody). */
  readonly error_body?: {
    /** JSON Pointers into the upstream body, at most 50 (adapters/shared/error-body.ts). */
    readonly dropped: readonly string[];
    readonly dropped_total: number;
    /** JSON Pointers of kept strings whose text was changed (record ids taken out), at most 50. */
    readonly rewritten?: readonly string[];
  };
};

/**
 * Written by the log itself when it opens after an unclean stop (the last segment had no
 * checkpoint): how many bytes of a torn last line were cut, and which segment was sealed.
 */
export type RecoveryRecord = {
  readonly kind: 'recovery';
  readonly v: 1;
  readonly timestamp: string;
  readonly labels?: Labels;
  /** The segment that was open when the gateway stopped (now sealed with a checkpoint). */
  readonly segment: string;
  /** Bytes removed from its end: a torn (incomplete or unparseable) last line; 0 when none. */
  readonly truncated_bytes: number;
  /** Hex SHA-256 of the bytes that were cut (present when truncated_bytes > 0). */
  readonly truncated_sha256?: string;
  /** seq of the last intact line, the one the chain continues from (0: none). */
  readonly last_seq: number;
};

export type LogRecord = DecisionRecord | OutcomeRecord | RecoveryRecord;
