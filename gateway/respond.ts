/**
 * Turns a refusal into the client's answer: RFC 9457 problem+json with the reason code(s), the
 * decision id header, and the protocol headers the status needs (RFC 6750 / RFC 9449 WWW-Authenticate on
 * 401, Retry-After on 503).
 */
import type { FastifyReply } from 'fastify';
import { ERRORS, problemOf, type ErrorCode } from './errors.ts';
import type { Refusal } from './types.ts';

export const DECISION_ID_HEADER = 'x-decision-id';

/** Refusals about the DPoP proof itself (RFC 9449 §7.1 `invalid_dpop_proof`). */
const DPOP_PROOF_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['GW_ERR_AUTH_DPOP_PROOF_INVALID', 'GW_ERR_AUTH_DPOP_REPLAYED', 'GW_ERR_AUTH_DPOP_BINDING_MISMATCH']);

export function sendProblem(reply: FastifyReply, r: Refusal, decisionId: string): FastifyReply {
  const e = ERRORS[r.code];
  if (e.status === 401) {
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    // RFC 9449 §7.1: proof problems are a DPoP challenge with error="invalid_dpop_proof".
    reply.header(
      'www-authenticate',
      r.code === 'GW_ERR_AUTH_TOKEN_MISSING'
        ? 'Bearer realm="crm-gateway"'
        : DPOP_PROOF_CODES.has(r.code)
          ? `DPoP realm="crm-gateway", error="invalid_dpop_proof", error_description="${e.reason}"`
          : r.code === 'GW_ERR_AUTH_DPOP_REQUIRED'
            ? `DPoP realm="crm-gateway", error="invalid_token", error_description="${e.reason}"`
            : `Bearer realm="crm-gateway", error="invalid_token", error_description="${e.reason}"`,
    );
  }
  if (e.status === 503) reply.header('retry-after', String(r.retryAfterSeconds ?? 5));
  reply.header(DECISION_ID_HEADER, decisionId);
  reply.header('cache-control', 'no-store');
  return reply.code(e.status).type('application/problem+json').send(JSON.stringify(problemOf(r, decisionId)));
}
