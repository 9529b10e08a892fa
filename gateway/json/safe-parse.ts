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
  /**
   * Try the parse-first path for text without backslashes (`parseWithoutEscapes`). For upstream
   * bodies only: it runs JSON.parse before the depth is known, and V8 parses deeply nested
   * arrays ~20× slower per byte than ordinary JSON (a 1 MiB `[[[…` costs ~40 ms), so text a
   * client controls (request bodies, tokens) keeps the scan first, which refuses a depth bomb
   * after maxDepth characters. Bodies the fast path declines are parsed a second time.
   */
  readonly fastPath?: boolean;
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

  if (limits.fastPath === true && text.indexOf('\\') < 0 && !inheritedEnumerable()) {
    const fast = parseWithoutEscapes(text, limits.maxDepth);
    if (fast !== undefined) return fast;
  }
  return parseByScan(text, limits.maxDepth);
}

/**
 * The full path, for any text: a structural scan (depth, duplicate keys after unescaping, which
 * keys and numbers need the slower checks), then JSON.parse. Exported for the test that holds the
 * fast path to the same answers.
 */
export function parseByScan(text: string, maxDepth: number): SafeParseResult {
  // The structural scan runs before JSON.parse so that a depth bomb never reaches a recursive walk.
  const scanned = scanJsonStructure(text, maxDepth);
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

/**
 * The common case, text without a single backslash, checked without the character-by-character
 * scan (which cost as much as JSON.parse itself): parse first, then walk the result.
 *
 * Duplicate keys. Without backslashes no string has an escape, so a parsed string is exactly its
 * text between the quotes, and two keys are equal exactly when their text is. Every `:` of the
 * text is then either the one after a key or a character inside a string (key or value). So when
 * nothing was dropped, count(`:` in the text) = keys + colons inside strings, both counted on the
 * parsed value. JSON.parse keeps the last of two equal keys and drops the first with everything
 * under it (at least that key), so a duplicate always leaves the text with more colons than the
 * parsed value accounts for.
 *
 * Inexact numbers. Every number that is an object member's value starts right after its key's
 * colon (and any whitespace), so looking after each colon finds all of them (and, harmlessly, a
 * few digits inside strings such as "10:30"). A number with 16 or more digits or an exponent sends
 * the body to the full path, which keeps such numbers exactly. Numbers inside arrays or alone at
 * the top are not after a colon: a body with any goes to the full path too.
 *
 * Returns undefined whenever the full path must decide (a duplicate, to name it; a syntax error or
 * too deep nesting, for its message; `__proto__` / `constructor` keys, for secure-json-parse's rules; a long number
 * or a number this check cannot see).
 */
function parseWithoutEscapes(text: string, maxDepth: number): SafeParseResult | undefined {
  let value: unknown;
  try {
    // V8's JSON.parse is iterative: a depth bomb costs time bounded by the body size, not stack.
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const tally: Tally = { keys: 0, colons: 0, proto: false, unseenNumbers: false };
  if (typeof value === 'number') return undefined; // a number alone at the top is after no colon
  // Too deep: the full path names the first problem in text order (as for every other refusal).
  if (typeof value === 'object' && value !== null && !walk(value, 1, maxDepth, tally)) return undefined;
  if (typeof value === 'string' && value.includes(':')) tally.colons += colonsIn(value);
  if (tally.proto || tally.unseenNumbers) return undefined;
  let colons = 0;
  for (let i = text.indexOf(':'); i >= 0; i = text.indexOf(':', i + 1)) {
    colons++;
    if (mayBeInexactNumberAt(text, i + 1)) return undefined;
  }
  return colons === tally.keys + tally.colons ? { ok: true, value } : undefined;
}

type Tally = { keys: number; colons: number; proto: boolean; unseenNumbers: boolean };

/**
 * Count keys and colons inside strings, note numbers that are not member values; false when a
 * container sits deeper than `maxDepth`. Hot (every value of every upstream body): scalars are
 * handled inline, without a call, and most strings cost one `includes`.
 */
function walk(v: object, depth: number, maxDepth: number, tally: Tally): boolean {
  if (depth > maxDepth) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object') {
        if (x !== null && !walk(x, depth + 1, maxDepth, tally)) return false;
      } else if (typeof x === 'string') {
        if (x.includes(':')) tally.colons += colonsIn(x);
      } else if (typeof x === 'number') {
        tally.unseenNumbers = true;
      }
    }
    return true;
  }
  const o = v as Record<string, unknown>;
  // for-in over a JSON.parse object yields its own keys only because nothing above it in the
  // prototype chain is enumerable; `safeParseJson` checks that before taking this path (an
  // inherited key counted here could cancel out a dropped duplicate).
  for (const k in o) {
    tally.keys++;
    if (k === '__proto__' || k === 'constructor') tally.proto = true;
    if (k.includes(':')) tally.colons += colonsIn(k);
    const x = o[k];
    if (typeof x === 'object') {
      if (x !== null && !walk(x, depth + 1, maxDepth, tally)) return false;
    } else if (typeof x === 'string' && x.includes(':')) {
      tally.colons += colonsIn(x);
    }
  }
  return true;
}

const EMPTY = Object.freeze({});

/**
 * True when Object.prototype (or anything above a plain object) has an enumerable property, as a
 * prototype-pollution bug or a careless library can add: `walk`'s for-in would then count it.
 */
function inheritedEnumerable(): boolean {
  for (const _ in EMPTY) return true;
  return false;
}

function colonsIn(s: string): number {
  let n = 0;
  for (let i = s.indexOf(':'); i >= 0; i = s.indexOf(':', i + 1)) n++;
  return n;
}

/** Whether a number literal starting at `i` (after whitespace) has 16+ digits or an exponent. */
function mayBeInexactNumberAt(text: string, i: number): boolean {
  let c = text.charCodeAt(i);
  while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = text.charCodeAt(++i);
  if (c === 0x2d) c = text.charCodeAt(++i); // -
  if (!(c >= 0x30 && c <= 0x39)) return false;
  let digits = 0;
  for (; ; c = text.charCodeAt(++i)) {
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (c === 0x65 || c === 0x45) return true; // e, E
    else if (c !== 0x2e) break; // .
  }
  return digits >= 16;
}
