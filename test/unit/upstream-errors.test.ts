import t from 'tap';
import { upstreamErrorCode } from '../../gateway/upstream-errors.ts';

t.test('reply-from / undici errors → registry codes', async (t) => {
  const cases: [{ code?: string; cause?: { code?: string } }, string][] = [
    [{ code: 'UND_ERR_CONNECT_TIMEOUT' }, 'GW_ERR_UPSTREAM_CONNECT_TIMEOUT'],
    [{ code: 'FST_REPLY_FROM_INTERNAL_SERVER_ERROR', cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } }, 'GW_ERR_UPSTREAM_CONNECT_TIMEOUT'],
    [{ code: 'FST_REPLY_FROM_GATEWAY_TIMEOUT', cause: { code: 'UND_ERR_HEADERS_TIMEOUT' } }, 'GW_ERR_UPSTREAM_TIMEOUT'],
    [{ code: 'FST_REPLY_FROM_TIMEOUT' }, 'GW_ERR_UPSTREAM_TIMEOUT'],
    [{ code: 'FST_REPLY_FROM_INTERNAL_SERVER_ERROR', cause: { code: 'ECONNREFUSED' } }, 'GW_ERR_UPSTREAM_UNREACHABLE'],
    [{ code: 'ECONNRESET' }, 'GW_ERR_UPSTREAM_UNREACHABLE'],
    [{}, 'GW_ERR_UPSTREAM_UNREACHABLE'],
  ];
  for (const [err, want] of cases) t.equal(upstreamErrorCode(err), want, JSON.stringify(err));
});
