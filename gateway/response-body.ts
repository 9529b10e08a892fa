/**
 * The CPU-heavy half of answering a filtered route: parse the upstream bytes safely, apply the
 * decision's row and field obligations through the adapter, and serialize what the client may
 * see. Pure: bytes and plain data in, bytes and plain data out (the shell only reads the stream
 * before and writes the bytes after). The body goes out as UTF-8 bytes made here, once.
 */
import type { Adapter } from '../adapters/types.ts';
import type { OutcomeRecord } from '../audit/event.ts';
import { isRefusal } from './errors.ts';
import { parseUpstreamJson } from './response-filter.ts';
import type { Obligations, Refusal, Resource } from './types.ts';

export type ResponseJob = {
  readonly resource: Resource;
  readonly obligations: Obligations;
  /** The upstream status: only a 2xx body carries records to filter. */
  readonly status: number;
  readonly maxDepth: number;
};

export type OutcomeFilter = NonNullable<OutcomeRecord['filter']>;

export type OutcomeErrorBody = NonNullable<OutcomeRecord['error_body']>;

/**
 * `body`: UTF-8 JSON for the client. For the outcome record: `filter`, what the filter did (2xx),
 * or `errorBody`, what was dropped from an error answer (non-2xx).
 */
export type ResponseBody = { readonly body: Uint8Array; readonly filter?: OutcomeFilter; readonly errorBody?: OutcomeErrorBody };

export function filterResponseBody(adapter: Adapter, bytes: Buffer, job: ResponseJob): ResponseBody | Refusal {
  const read = parseUpstreamJson(bytes, job.maxDepth);
  if (isRefusal(read)) return read;
  // Non-2xx bodies are upstream errors: clients need them (e.g. Salesforce MALFORMED_QUERY), but
  // they are not records the decision filtered, so only the adapter's error members pass.
  if (job.status < 200 || job.status >= 300) {
    const e = adapter.errorBody(read.value);
    return {
      body: Buffer.from(JSON.stringify(e.body), 'utf8'),
      errorBody: { dropped: [...e.dropped], dropped_total: e.droppedTotal, ...(e.rewritten.length > 0 ? { rewritten: [...e.rewritten] } : {}) },
    };
  }
  const filtered = adapter.filter(read.value, job.resource, job.obligations);
  if (isRefusal(filtered)) return filtered;
  const r = filtered.report;
  return {
    body: Buffer.from(JSON.stringify(filtered.body), 'utf8'),
    filter: { rows_in: r.rowsIn, rows_out: r.rowsOut, fields_masked: r.masked, fields_removed: r.removed, records: r.ids, fields_delivered: r.delivered },
  };
}
