/**
 * Counters in the Prometheus text exposition format (version 0.0.4), written by hand: a handful
 * of counters does not need a client library. Refusals are counted per registry reason as
 * answered to the client; key-set fetches per issuer come from the issuer registry's status.
 */
import type { IssuerStatus } from './identity/issuers.ts';
import type { DecisionLogStatus } from '../audit/decision-log.ts';

export type RefusalCounter = {
  count(reason: string): void;
  snapshot(): Readonly<Record<string, number>>;
};

export function createRefusalCounter(): RefusalCounter {
  const counts = new Map<string, number>();
  return {
    count: (reason) => void counts.set(reason, (counts.get(reason) ?? 0) + 1),
    snapshot: () => Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/** Label values escaped per the exposition format: backslash, double quote and newline. */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(refusals: RefusalCounter, issuers: readonly IssuerStatus[], log?: DecisionLogStatus): string {
  const lines = ['# HELP gateway_refusals_total Requests refused, by reason code.', '# TYPE gateway_refusals_total counter'];
  for (const [reason, n] of Object.entries(refusals.snapshot())) lines.push(`gateway_refusals_total{reason="${label(reason)}"} ${n}`);
  lines.push('# HELP gateway_jwks_fetches_total JWKS fetches per issuer, by result.', '# TYPE gateway_jwks_fetches_total counter');
  for (const i of issuers) {
    if (!i.keys) continue;
    lines.push(`gateway_jwks_fetches_total{issuer="${label(i.issuer)}",result="ok"} ${i.keys.fetches.ok}`);
    lines.push(`gateway_jwks_fetches_total{issuer="${label(i.issuer)}",result="failed"} ${i.keys.fetches.failed}`);
  }
  lines.push('# HELP gateway_jwks_refetches_on_unknown_kid_total JWKS refetches caused by an unknown kid or stale keys (at most one per cooldown).', '# TYPE gateway_jwks_refetches_on_unknown_kid_total counter');
  for (const i of issuers) if (i.keys) lines.push(`gateway_jwks_refetches_on_unknown_kid_total{issuer="${label(i.issuer)}"} ${i.keys.fetches.onDemand}`);
  lines.push('# HELP gateway_introspection_requests_total RFC 7662 introspection requests per issuer, by result (cache hits are not requests).', '# TYPE gateway_introspection_requests_total counter');
  for (const i of issuers) {
    if (!i.introspection) continue;
    lines.push(`gateway_introspection_requests_total{issuer="${label(i.issuer)}",result="ok"} ${i.introspection.ok}`);
    lines.push(`gateway_introspection_requests_total{issuer="${label(i.issuer)}",result="failed"} ${i.introspection.failed}`);
  }
  lines.push('# HELP gateway_issuer_ready 1 when the issuer has fresh keys.', '# TYPE gateway_issuer_ready gauge');
  for (const i of issuers) lines.push(`gateway_issuer_ready{issuer="${label(i.issuer)}"} ${i.ready ? 1 : 0}`);
  if (log) lines.push(...decisionLogMetrics(log));
  return lines.join('\n') + '\n';
}

/** The decision log's counters; every record that is not written or shipped is counted by name. */
function decisionLogMetrics(log: DecisionLogStatus): string[] {
  const lines = [
    '# HELP gateway_decision_log_records_written_total Records written to the decision log (synced per decisionLog.durability).',
    '# TYPE gateway_decision_log_records_written_total counter',
    `gateway_decision_log_records_written_total ${log.written}`,
    '# HELP gateway_decision_log_write_failures_total Records that could not be written (their requests were refused with 503).',
    '# TYPE gateway_decision_log_write_failures_total counter',
    `gateway_decision_log_write_failures_total ${log.failed}`,
    '# HELP gateway_decision_log_healthy 1 while the last write succeeded (the gateway is unready otherwise).',
    '# TYPE gateway_decision_log_healthy gauge',
    `gateway_decision_log_healthy ${log.healthy ? 1 : 0}`,
  ];
  const s = log.ship;
  if (!s) return lines;
  lines.push(
    '# HELP gateway_decision_log_shipped_total Records delivered to the decision-log service (2xx).',
    '# TYPE gateway_decision_log_shipped_total counter',
    `gateway_decision_log_shipped_total ${s.shipped}`,
    '# HELP gateway_decision_log_ship_failed_attempts_total POSTs to the decision-log service that failed (retried with backoff).',
    '# TYPE gateway_decision_log_ship_failed_attempts_total counter',
    `gateway_decision_log_ship_failed_attempts_total ${s.failedAttempts}`,
    '# HELP gateway_decision_log_ship_dropped_total Records not shipped (still in the local trail), by reason.',
    '# TYPE gateway_decision_log_ship_dropped_total counter',
    `gateway_decision_log_ship_dropped_total{reason="buffer_full"} ${s.dropped.buffer_full}`,
    `gateway_decision_log_ship_dropped_total{reason="shutdown"} ${s.dropped.shutdown}`,
    '# HELP gateway_decision_log_ship_buffered Records waiting to be shipped.',
    '# TYPE gateway_decision_log_ship_buffered gauge',
    `gateway_decision_log_ship_buffered ${s.buffered}`,
  );
  return lines;
}
