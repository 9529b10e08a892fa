/**
 * The upstream half of a forwarded request: its answer is read, filtered and logged before the
 * client sees any of it.
 *
 *   unfiltered route (writes), 2xx   outcome record → the upstream body streamed through
 *   filtered route, 404 for a record answered like a hidden record (the client cannot tell them apart)
 *   filtered route, 2xx              read (JSON only, bounded, decoded) → parse + filter + serialize
 *                                    (response-body.ts) → outcome record → the filtered bytes
 *   any route, other statuses        read the same way → the adapter's error members only
 *                                    (errorBody) → outcome record → those bytes
 *
 * Every failure on the way (unreadable body, a shape the adapter refuses, a log write that fails)
 * is answered with problem+json and recorded as the outcome: the upstream's bytes are never
 * passed through unfiltered, and no body leaves before its outcome record is written.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { DecisionLog } from '../audit/decision-log.ts';
import type { Labels, OutcomeRecord } from '../audit/event.ts';
import { ERRORS, isRefusal, refuse } from './errors.ts';
import type { RequestState } from './request-state.ts';
import { sendProblem } from './respond.ts';
import { filterResponseBody } from './response-body.ts';
import { readUpstreamBody, readUpstreamErrorBody } from './response-filter.ts';
import type { Refusal } from './types.ts';

export type UpstreamResponseOptions = {
  readonly decisionLog: Pick<DecisionLog, 'append'>;
  /** The fields every record of this request starts with. */
  readonly baseRecord: (st: RequestState) => { readonly v: 1; readonly decision_id: string; readonly timestamp: string; readonly labels: Labels };
  readonly limits: { readonly responseBodyBytes: number; readonly jsonDepth: number };
};

/** What @fastify/http-proxy's reply-from hands over for an upstream answer. */
export type UpstreamAnswer = { statusCode: number; headers: Record<string, string | string[] | undefined>; stream: Readable };

export function createUpstreamResponse(o: UpstreamResponseOptions): {
  onResponse: (request: FastifyRequest, reply: FastifyReply, res: UpstreamAnswer) => Promise<unknown>;
  /** Answer with a refusal after forwarding (upstream status 0: no answer), its outcome record first. */
  failResponse: (request: FastifyRequest, reply: FastifyReply, upstreamStatus: number, r: Refusal) => Promise<void>;
} {
  const writeOutcome = async (request: FastifyRequest, upstreamStatus: number, status: number, extra: Partial<OutcomeRecord>): Promise<boolean> => {
    const st = request.gw;
    const record: OutcomeRecord = {
      kind: 'outcome',
      ...o.baseRecord(st),
      upstream: { name: st.upstream!.config.name, status: upstreamStatus, latency_ms: Math.round((performance.now() - (st.forwardedAt ?? st.startedAt)) * 1000) / 1000 },
      status,
      ...extra,
    };
    try {
      await o.decisionLog.append(record);
      return true;
    } catch (err) {
      request.log.error({ err, decisionId: st.decisionId }, 'outcome log write failed; refusing');
      return false;
    }
  };

  const failResponse = async (request: FastifyRequest, reply: FastifyReply, upstreamStatus: number, r: Refusal) => {
    const ok = await writeOutcome(request, upstreamStatus, ERRORS[r.code].status, { reason: ERRORS[r.code].reason });
    // The answer is the gateway's now: none of the upstream's headers (set-cookie, caching…) stay.
    for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
    sendProblem(reply, ok ? r : refuse('GW_ERR_AUDIT_WRITE_FAILED'), request.gw.decisionId);
  };

  const onResponse = async (request: FastifyRequest, reply: FastifyReply, res: UpstreamAnswer) => {
    const st = request.gw;
    const resource = st.resource!;
    try {
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      if (!resource.filtered && ok) {
        // Writes and other unfiltered routes: a success body carries no records to filter. Their
        // errors take the path below (an error can quote records: adapter errorBody).
        if (!(await writeOutcome(request, res.statusCode, res.statusCode, {}))) {
          res.stream.destroy();
          return failResponse(request, reply, res.statusCode, refuse('GW_ERR_AUDIT_WRITE_FAILED'));
        }
        return reply.send(res.stream);
      }
      if (resource.filtered && res.statusCode === 404 && resource.id !== undefined) {
        // Missing and hidden records must look the same to the client.
        res.stream.resume();
        return failResponse(request, reply, res.statusCode, refuse('GW_ERR_RES_RECORD_HIDDEN'));
      }
      const bytes = ok
        ? await readUpstreamBody(res.stream, res.headers, o.limits.responseBodyBytes)
        : await readUpstreamErrorBody(res.stream, res.headers, o.limits.responseBodyBytes);
      if (isRefusal(bytes)) return failResponse(request, reply, res.statusCode, bytes);
      // An error answer's Location (a 3xx) names the upstream's own URLs, not the gateway's.
      // (2xx answers keep theirs: a known gap, docs/architecture.md.)
      if (!ok) for (const h of ['location', 'content-location']) reply.removeHeader(h);
      if (!ok && bytes.length === 0) {
        // An error without a body has nothing to leak: the client keeps the upstream's status and
        // headers (Retry-After, WWW-Authenticate) instead of a 502.
        if (!(await writeOutcome(request, res.statusCode, res.statusCode, {}))) {
          return failResponse(request, reply, res.statusCode, refuse('GW_ERR_AUDIT_WRITE_FAILED'));
        }
        resetUpstreamHeaders(reply);
        return reply.send();
      }
      const job = { resource, obligations: st.decision!.obligations, status: res.statusCode, maxDepth: o.limits.jsonDepth };
      const out = filterResponseBody(st.upstream!.adapter, bytes, job);
      if (isRefusal(out)) return failResponse(request, reply, res.statusCode, out);
      const report = out.filter ? { filter: out.filter } : out.errorBody ? { error_body: out.errorBody } : {};
      if (!(await writeOutcome(request, res.statusCode, res.statusCode, report))) {
        return failResponse(request, reply, res.statusCode, refuse('GW_ERR_AUDIT_WRITE_FAILED'));
      }
      resetUpstreamHeaders(reply);
      // An RFC 9457 error stays one (the reduced body keeps its members); anything else is JSON.
      const ct = res.headers['content-type'];
      const problem = !ok && /^\s*application\/problem\+json\b/i.test(Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? ''));
      return reply.type(problem ? 'application/problem+json; charset=utf-8' : 'application/json; charset=utf-8').send(out.body);
    } catch (err) {
      request.log.error({ err, decisionId: st.decisionId }, 'response handling failed');
      res.stream.destroy();
      return failResponse(request, reply, res.statusCode, refuse('GW_ERR_INTERNAL_ERROR'));
    }
  };

  return { onResponse, failResponse };
}

/** Headers copied from the upstream that no longer describe the body the gateway sends. */
function resetUpstreamHeaders(reply: FastifyReply): void {
  for (const h of ['content-length', 'content-encoding', 'etag', 'content-md5', 'digest', 'transfer-encoding']) reply.removeHeader(h);
}
