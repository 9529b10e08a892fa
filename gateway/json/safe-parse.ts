/**
 * Safe JSON parsing for bodies the policy and the upstream both read. The rule is that the
 * gateway must never see a different value than the upstream will: so everything a lenient
 * parser would silently "fix" (duplicate keys, lossy numbers, invalid UTF-8) is refused or kept
 * exactly, and prototype-poisoning keys are refused outright.
 */
import sjson from 'secure-json-parse';
import { scanJsonStructure } from './scan.ts';
import { exactNumberReviver } from './exact-numbers.ts';

export type SafeParseLimits = {
  /** Deepest container nesting allowed; a top-level object or array is depth 1. */
  readonly maxDepth: number;
};

export type SafeParseResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly why: string };

// fatal: invalid UTF-8 is an error, not U+FFFD (the upstream may decode it differently).
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parse a JSON body, refusing anything two parsers could read differently.
 *
 * Refused: invalid UTF-8, invalid JSON, `__proto__` keys and `constructor.prototype` (as
 * secure-json-parse defines them), nesting deeper than `limits.maxDepth`, and duplicate keys in
 * any object (compared after unescaping, so "a" and "\u0061" are the same key). Numbers whose
 * value a JS number cannot hold exactly are kept as `JSON.rawJSON(source)`, so that
 * `JSON.stringify` writes back the original digits instead of a rounded value.
 */
export function safeParseJson(buf: Buffer | string, limits: SafeParseLimits): SafeParseResult {
  let text: string;
  if (typeof buf === 'string') {
    text = buf;
  } else {
    try {
      text = utf8.decode(buf);
    } catch {
      return { ok: false, why: 'invalid UTF-8' };
    }
  }

  // The structural scan runs before JSON.parse so that a depth bomb never reaches a recursive walk.
  const scanned = scanJsonStructure(text, limits.maxDepth);
  if (!scanned.ok) return scanned;

  try {
    // The scan already walked every key and number: the reviver (slow) and secure-json-parse's
    // poisoning check run only when the scan saw something they could act on.
    const reviver = scanned.longNumbers ? exactNumberReviver : undefined;
    const value: unknown = scanned.protoKeys
      ? sjson.parse(text, reviver, { protoAction: 'error', constructorAction: 'error' })
      : JSON.parse(text, reviver);
    return { ok: true, value };
  } catch (err) {
    return { ok: false, why: err instanceof SyntaxError ? err.message : 'invalid JSON' };
  }
}
