/**
 * The one table that translates the proxy's foreign errors (@fastify/reply-from wrapping undici)
 * into registry codes. Pure.
 */
import type { ErrorCode } from './errors.ts';

export function upstreamErrorCode(err: { code?: string; cause?: { code?: string } }): ErrorCode {
  const code = err.code ?? '';
  const cause = err.cause?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || cause === 'UND_ERR_CONNECT_TIMEOUT') return 'GW_ERR_UPSTREAM_CONNECT_TIMEOUT';
  if (code === 'FST_REPLY_FROM_GATEWAY_TIMEOUT' || code === 'FST_REPLY_FROM_TIMEOUT' || cause === 'UND_ERR_HEADERS_TIMEOUT') return 'GW_ERR_UPSTREAM_TIMEOUT';
  return 'GW_ERR_UPSTREAM_UNREACHABLE';
}
