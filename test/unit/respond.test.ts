import t from 'tap';
import Fastify from 'fastify';
import { DECISION_ID_HEADER, sendProblem } from '../../gateway/respond.ts';
import { ERRORS, refuse, type ErrorCode } from '../../gateway/errors.ts';
import type { Refusal } from '../../gateway/types.ts';

/** A real fastify app whose one route answers with sendProblem(refusal). */
async function answer(t: { teardown(fn: () => unknown): void }, r: Refusal, decisionId = 'd-123') {
  const app = Fastify();
  app.get('/', (_req, reply) => sendProblem(reply, r, decisionId));
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/' });
  return { status: res.statusCode, headers: res.headers, body: res.json() as Record<string, unknown>, raw: res.body };
}

t.test('problem+json body, status and headers', async (t) => {
  const res = await answer(t, refuse('GW_ERR_POLICY_DENIED', 'denied', [{ code: 'device.unmanaged', message: 'needs a managed device' }]));
  t.equal(res.status, 403);
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.equal(res.headers[DECISION_ID_HEADER], 'd-123');
  t.equal(DECISION_ID_HEADER, 'x-decision-id');
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers['www-authenticate'], undefined);
  t.equal(res.headers['retry-after'], undefined);
  t.strictSame(res.body, {
    type: 'urn:crm-gateway:problem:policy.denied',
    title: 'Denied by policy',
    status: 403,
    code: 'GW_ERR_POLICY_DENIED',
    reason: 'policy.denied',
    reasons: [{ code: 'device.unmanaged', message: 'needs a managed device' }],
    detail: 'denied',
    decision_id: 'd-123',
  });
});

t.test('401 without credentials: WWW-Authenticate with no error code (RFC 6750 §3.1)', async (t) => {
  const res = await answer(t, refuse('GW_ERR_AUTH_TOKEN_MISSING'));
  t.equal(res.status, 401);
  t.equal(res.headers['www-authenticate'], 'Bearer realm="crm-gateway"');
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers['retry-after'], undefined);
  t.strictSame(res.body, {
    type: 'urn:crm-gateway:problem:auth.token_missing',
    title: 'No bearer token',
    status: 401,
    code: 'GW_ERR_AUTH_TOKEN_MISSING',
    reason: 'auth.token_missing',
    reasons: [{ code: 'auth.token_missing', message: 'No bearer token' }],
    decision_id: 'd-123',
  });
});

const DPOP_CODES: ErrorCode[] = ['GW_ERR_AUTH_DPOP_PROOF_INVALID', 'GW_ERR_AUTH_DPOP_REPLAYED', 'GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'GW_ERR_AUTH_DPOP_REQUIRED'];

t.test('every other 401: error="invalid_token" with the reason', async (t) => {
  const codes = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => ERRORS[c].status === 401 && c !== 'GW_ERR_AUTH_TOKEN_MISSING' && !DPOP_CODES.includes(c));
  t.strictSame(codes, [
    'GW_ERR_AUTH_TOKEN_MALFORMED',
    'GW_ERR_AUTH_SIGNATURE_INVALID',
    'GW_ERR_AUTH_TOKEN_EXPIRED',
    'GW_ERR_AUTH_TOKEN_NOT_YET_VALID',
    'GW_ERR_AUTH_AUDIENCE_MISMATCH',
    'GW_ERR_AUTH_ISSUER_UNTRUSTED',
    'GW_ERR_AUTH_ALGORITHM_NOT_ALLOWED',
    'GW_ERR_AUTH_KEY_UNKNOWN',
    'GW_ERR_AUTH_CLAIMS_INVALID',
    'GW_ERR_AUTH_HEADER_UNSUPPORTED',
    'GW_ERR_AUTH_WRONG_TOKEN_TYPE',
    'GW_ERR_AUTH_TOKEN_INACTIVE',
    'GW_ERR_AUTH_TENANT_NOT_ALLOWED',
    'GW_ERR_AUTH_MTLS_UNSUPPORTED',
    'GW_ERR_AUTH_MTLS_BINDING_MISMATCH',
  ]);
  for (const code of codes) {
    const res = await answer(t, refuse(code));
    t.equal(res.status, 401, code);
    t.equal(res.headers['www-authenticate'], `Bearer realm="crm-gateway", error="invalid_token", error_description="${ERRORS[code].reason}"`, code);
  }
  const expired = await answer(t, refuse('GW_ERR_AUTH_TOKEN_EXPIRED'));
  t.equal(expired.headers['www-authenticate'], 'Bearer realm="crm-gateway", error="invalid_token", error_description="auth.token_expired"');
});

t.test('DPoP refusals: a DPoP challenge (RFC 9449 §7.1)', async (t) => {
  for (const code of DPOP_CODES) {
    const res = await answer(t, refuse(code));
    t.equal(res.status, 401, code);
    const error = code === 'GW_ERR_AUTH_DPOP_REQUIRED' ? 'invalid_token' : 'invalid_dpop_proof';
    t.equal(res.headers['www-authenticate'], `DPoP realm="crm-gateway", error="${error}", error_description="${ERRORS[code].reason}"`, code);
  }
});

t.test('503: Retry-After, and no WWW-Authenticate even for an auth code', async (t) => {
  for (const code of ['GW_ERR_AUTH_KEYS_UNAVAILABLE', 'GW_ERR_AUDIT_WRITE_FAILED'] as const) {
    const res = await answer(t, refuse(code), 'd-9');
    t.equal(res.status, 503, code);
    t.equal(res.headers['retry-after'], '5', code);
    t.equal(res.headers['www-authenticate'], undefined, code);
    t.equal(res.headers['x-decision-id'], 'd-9', code);
    t.equal(res.headers['cache-control'], 'no-store', code);
    t.equal(res.body.code, code);
  }
});

t.test('503: a refusal that knows when keys may be had again sets Retry-After to it', async (t) => {
  const res = await answer(t, { ...refuse('GW_ERR_AUTH_KEYS_UNAVAILABLE', 'stale'), retryAfterSeconds: 17 }, 'd-10');
  t.equal(res.status, 503);
  t.equal(res.headers['retry-after'], '17');
  t.equal(res.body.reason, 'auth.keys_unavailable');
  t.notOk('retryAfterSeconds' in res.body, 'not a problem member');
});

t.test('status of every registry code is the registry status', async (t) => {
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const res = await answer(t, refuse(code));
    t.equal(res.status, ERRORS[code].status, code);
    t.equal(res.body.reason, ERRORS[code].reason, code);
    t.equal(res.headers['retry-after'], ERRORS[code].status === 503 ? '5' : undefined, `${code} retry-after`);
    t.equal(res.headers['www-authenticate'] !== undefined, ERRORS[code].status === 401, `${code} www-authenticate`);
  }
});
