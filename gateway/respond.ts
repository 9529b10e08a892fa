/**
 * Turns a refusal into the client's answer: RFC 9457 problem+json with the reason code(s), the
 * decision id header, and the protocol headers the status needs (RFC 6750 WWW-Authenticate on
 * 401, Retry-After on 503).
 */
import type { FastifyReply } from 'fastify';
import { ERRORS, problemOf } from './errors.ts';
import type { Refusal } from './types.ts';

export const DECISION_ID_HEADER = 'x-decision-id';

export function sendProblem(reply: FastifyReply, r: Refusal, decisionId: string): FastifyReply {
  const e = ERRORS[r.code];
  if (e.status === 401) {
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    reply.header(
      'www-authenticate',
      r.code === 'GW_ERR_AUTH_TOKEN_MISSING' ? 'Bearer realm="crm-gateway"' : `Bearer realm="crm-gateway", error="invalid_token", error_description="${e.reason}"`,
    );
  }
  if (e.status === 503) reply.header('retry-after', String(r.retryAfterSeconds ?? 5));
  reply.header(DECISION_ID_HEADER, decisionId);
  reply.header('cache-control', 'no-store');
  return reply.code(e.status).type('application/problem+json').send(JSON.stringify(problemOf(r, decisionId)));
}
