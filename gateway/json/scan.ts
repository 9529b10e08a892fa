/**
 * A single-pass structural scan of JSON text: container depth and duplicate object keys, the
 * two things JSON.parse cannot report (it recurses on depth and silently keeps the last of two
 * equal keys, while another parser may keep the first). It does not validate the grammar:
 * JSON.parse runs afterwards and rejects anything malformed; on malformed text this scan may
 * report a wrong reason, never a false "ok" for valid JSON.
 */

/**
 * `protoKeys`: a `__proto__` or `constructor` key was seen (only then is the slower
 * prototype-poisoning check worth running). `longNumbers`: a number literal with 16 or more
 * digits or an exponent was seen (only then can a number be inexact and need the reviver).
 */
export type ScanResult =
  | { readonly ok: true; readonly protoKeys: boolean; readonly longNumbers: boolean }
  | { readonly ok: false; readonly why: string };

// Keys of one object, in a small array: records have a dozen keys, and a linear scan of a short
// array is cheaper than hashing every key into a Set (this scan runs on every filtered body).
type Frame = { readonly keys: string[] | null; expectKey: boolean };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Check nesting depth (top-level container = 1) and duplicate keys in every object. */
export function scanJsonStructure(text: string, maxDepth: number): ScanResult {
  const stack: Frame[] = [];
  const n = text.length;
  let protoKeys = false;
  let longNumbers = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        if (stack.length >= maxDepth) return { ok: false, why: `nesting deeper than ${maxDepth}` };
        stack.push({ keys: c === 0x7b ? [] : null, expectKey: c === 0x7b });
        break;
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop();
        break;
      case 0x2c: {
        // ',' in an object: the next string is a key again
        const top = stack[stack.length - 1];
        if (top?.keys) top.expectKey = true;
        break;
      }
      case QUOTE: {
        const end = stringEnd(text, i);
        if (end < 0) return { ok: false, why: 'unterminated string' };
        const top = stack[stack.length - 1];
        if (top?.keys && top.expectKey) {
          const key = decodeKey(text, i, end);
          if (key === undefined) return { ok: false, why: 'invalid escape in key' };
          if (top.keys.includes(key)) return { ok: false, why: `duplicate key ${JSON.stringify(key)}` };
          if (key === '__proto__' || key === 'constructor') protoKeys = true;
          top.keys.push(key);
          top.expectKey = false;
        }
        i = end;
        break;
      }
      default:
        if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
          // A number literal (strings were skipped above): count its digits, look for an exponent.
          let digits = 0;
          let j = i;
          for (; j < n; j++) {
            const d = text.charCodeAt(j);
            if (d >= 0x30 && d <= 0x39) digits++;
            else if (d === 0x65 || d === 0x45) longNumbers = true;
            else if (d !== 0x2e && d !== 0x2d && d !== 0x2b) break;
          }
          if (digits >= 16) longNumbers = true;
          i = j - 1;
        }
        break;
    }
  }
  return { ok: true, protoKeys, longNumbers };
}

/**
 * Index of the closing quote of the string opening at `start`, or -1. Jumps from quote to quote
 * with the native indexOf (string contents are most of a body) and counts the backslashes in
 * front of each: an odd number escapes it.
 */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return -1;
    let b = q - 1;
    while (b > start && text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    from = q + 1;
  }
}

/** The key's value after unescaping, so that "a" and "\u0061" compare equal. */
function decodeKey(text: string, start: number, end: number): string | undefined {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return undefined;
  }
}
