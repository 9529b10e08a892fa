/**
 * Before an update or delete, the policy must know whose record it is: the gateway reads the
 * record's current tenant/region fields from the upstream (one GET of the same record path,
 * with the gateway's identity headers) and gives them to the policy as `resource.current`.
 * Without this, a PATCH naming another tenant's record id could not be refused. Fails closed:
 * a missing record is 404, anything unreadable is a 502/504 refusal.
 */
import { request } from 'undici';
import { refuse } from './errors.ts';
import { safeParseJson } from './json/safe-parse.ts';
import { isJsonContentType, readBounded } from './response-filter.ts';
import type { Refusal } from './types.ts';

export type PrefetchOptions = {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly fields: readonly string[];
  readonly timeouts: { readonly connectMs: number; readonly headersMs: number; readonly bodyMs: number };
  readonly maxBytes: number;
  readonly maxDepth: number;
};

export async function prefetchCurrent(o: PrefetchOptions): Promise<Record<string, unknown> | Refusal> {
  // The write's own body headers must not ride along on a GET.
  const headers: Record<string, string> = { ...o.headers, accept: 'application/json', 'accept-encoding': 'identity' };
  for (const h of ['content-length', 'content-type', 'transfer-encoding', 'content-encoding']) delete headers[h];
  let res;
  try {
    res = await request(o.url, {
      method: 'GET',
      headers,
      headersTimeout: o.timeouts.headersMs,
      bodyTimeout: o.timeouts.bodyMs,
      signal: AbortSignal.timeout(o.timeouts.connectMs + o.timeouts.headersMs + o.timeouts.bodyMs),
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return refuse('GW_ERR_UPSTREAM_CONNECT_TIMEOUT', 'reading the current record');
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || (err as Error).name === 'TimeoutError') return refuse('GW_ERR_UPSTREAM_TIMEOUT', 'reading the current record');
    return refuse('GW_ERR_UPSTREAM_UNREACHABLE', 'reading the current record');
  }
  if (res.statusCode === 404) {
    await res.body.dump();
    return refuse('GW_ERR_RES_RECORD_HIDDEN');
  }
  const ct = res.headers['content-type'];
  if (res.statusCode !== 200) {
    await res.body.dump();
    return refuse(res.statusCode >= 500 ? 'GW_ERR_UPSTREAM_UNREACHABLE' : 'GW_ERR_UPSTREAM_SHAPE', `reading the current record: upstream status ${res.statusCode}`);
  }
  if (!isJsonContentType(Array.isArray(ct) ? ct[0] : ct)) {
    await res.body.dump();
    return refuse('GW_ERR_UPSTREAM_NOT_JSON', 'reading the current record');
  }
  const enc = res.headers['content-encoding'];
  const buf = await readBounded(res.body, Array.isArray(enc) ? enc.join(',') : enc, o.maxBytes);
  if (!Buffer.isBuffer(buf)) return buf;
  const parsed = safeParseJson(buf, { maxDepth: o.maxDepth });
  if (!parsed.ok) return refuse('GW_ERR_UPSTREAM_BODY_UNPARSEABLE', `current record: ${parsed.why}`);
  const rec = parsed.value;
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return refuse('GW_ERR_UPSTREAM_SHAPE', 'current record is not an object');
  const current: Record<string, unknown> = {};
  for (const f of o.fields) if (Object.hasOwn(rec, f)) current[f] = (rec as Record<string, unknown>)[f];
  return current;
}
