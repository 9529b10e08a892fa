import t from 'tap';
import { ERRORS, problemOf, refuse } from '../../gateway/errors.ts';

t.test('every registry entry has a dotted reason, a status and a title', async (t) => {
  const reasons = new Set<string>();
  for (const [code, e] of Object.entries(ERRORS)) {
    t.match(code, /^GW_ERR_[A-Z]+_[A-Z_]+$/, code);
    t.match(e.reason, /^[a-z]+\.[a-z_]+$/, `${code} reason`);
    t.ok(e.status >= 400 && e.status < 600, `${code} status`);
    t.notOk(reasons.has(e.reason), `${code} reason is unique`);
    reasons.add(e.reason);
  }
});

t.test('problem+json carries code, reason and decision id', async (t) => {
  const p = problemOf(refuse('GW_ERR_REQ_DOT_SEGMENT', 'segment 2'), 'd-1');
  t.same(p, {
    type: 'urn:crm-gateway:problem:request.dot_segment',
    title: ERRORS.GW_ERR_REQ_DOT_SEGMENT.title,
    status: 400,
    code: 'GW_ERR_REQ_DOT_SEGMENT',
    reason: 'request.dot_segment',
    reasons: [{ code: 'request.dot_segment', message: 'segment 2' }],
    detail: 'segment 2',
    decision_id: 'd-1',
  });
});
