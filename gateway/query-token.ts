/**
 * RFC 6750 §2.3 tokens in the query (`?access_token=…`), for deployments that turn on
 * `proxy.allowQueryToken`. Pure. The parameter is taken out of the canonical request so that the
 * policy, the decision log and the upstream never see it, and the query that remains is still the
 * client's bytes: the other `&`-separated pieces are kept exactly as received, in order (only the
 * pieces whose decoded name is `access_token` are dropped), so `rawQuery` stays the one query
 * both the policy and the upstream read.
 */
import type { CanonicalRequest } from './types.ts';

export const QUERY_TOKEN_PARAM = 'access_token';

/** A raw `name=value` piece → its decoded name (as URLSearchParams reads it). */
function nameOf(piece: string): string {
  const eq = piece.indexOf('=');
  const raw = (eq < 0 ? piece : piece.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // canonicalization refused malformed escapes already
  }
}

/** The query's `access_token` values and the request without them. Unchanged when there are none. */
export function takeQueryToken(req: CanonicalRequest): { tokens: string[]; req: CanonicalRequest } {
  const tokens = req.query.getAll(QUERY_TOKEN_PARAM);
  if (tokens.length === 0) return { tokens, req };
  const rawQuery = req.rawQuery
    .split('&')
    .filter((piece) => nameOf(piece) !== QUERY_TOKEN_PARAM)
    .join('&');
  return { tokens, req: { ...req, rawQuery, query: new URLSearchParams(rawQuery) } };
}
