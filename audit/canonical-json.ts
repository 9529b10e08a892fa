/**
 * RFC 8785 (JCS) canonical JSON: object members sorted by the UTF-16 code units of their names,
 * ECMAScript number and string serialization, no whitespace. Every line of the decision log is
 * written with it, checkpoints are signed over it, and replay compares results in it, so there is
 * exactly one implementation.
 *
 * Why not the `canonicalize` package: it is correct (the unit tests use it as the reference and
 * compare on generated values) but walks an explicit frame stack with a cycle set, ~10 µs for a
 * 1 KB decision record; two records per allowed request made it one of the gateway's larger
 * costs. This recursive walk gives the same bytes in under a third of the time (~3 µs: insertion
 * sort of the few member names, quoted names cached, strings without anything to escape quoted
 * directly). Differences, all
 * refusals of values the log never holds: a `JSON.rawJSON` value throws (the lib writes it as an
 * object), and nesting deeper than MAX_DEPTH (a cycle included) throws instead of a cycle message.
 */

/**
 * Deeper than this is refused. Records nest a request body a few levels down (record → input →
 * resource → body → field), and a body may be as deep as limits.jsonDepth allows (at most 1000),
 * so the bound sits above that: a body the gateway accepted must never fail its log write.
 */
const MAX_DEPTH = 1100;

const isRawJSON = (JSON as unknown as { isRawJSON?: (v: unknown) => boolean }).isRawJSON ?? (() => false);

/**
 * A value already serialized by `canonicalJson`, written verbatim where it sits. The decision
 * record's input is serialized once to measure it against decisionLog.maxInputBytes; wrapping
 * that text spares serializing it again for the line. Only `canonicalJson` output belongs here
 * (the constructor is not a validator). `toJSON` gives other serializers the value back.
 */
export class CanonicalText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
    Object.freeze(this);
  }
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * The canonical JSON text of `value`, or undefined where JSON.stringify gives undefined (a
 * top-level undefined, function or symbol). Throws on NaN, ±Infinity, BigInt, lone surrogates,
 * raw JSON values and too deep nesting.
 */
export function canonicalJson(value: unknown): string | undefined {
  return serialize(value, 0);
}

/**
 * `canonicalJson`, or undefined where it would throw: for callers that serialize once to share
 * the text and fall back to serializing the value themselves (which then reports the problem).
 */
export function tryCanonicalJson(value: unknown): string | undefined {
  try {
    return serialize(value, 0);
  } catch {
    return undefined;
  }
}

function serialize(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(Number.isNaN(value) ? 'NaN is not allowed' : 'Infinity is not allowed');
      return '' + value; // Number::toString, as RFC 8785 §3.2.2.3 (and -0 gives "0")
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('a BigInt cannot be serialized as JSON');
    case 'object':
      break;
    default:
      return undefined; // undefined, function, symbol: as JSON.stringify
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new Error(`canonical JSON: nesting deeper than ${MAX_DEPTH} (or a circular reference)`);
  if (value instanceof CanonicalText) return value.text;
  const o = value as { toJSON?: unknown };
  if (typeof o.toJSON === 'function') return serialize((o.toJSON as () => unknown).call(o), depth + 1);
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return serialize(value.valueOf(), depth);
  if (isRawJSON(value)) throw new Error('canonical JSON: a raw JSON number cannot be canonicalized');
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += serialize(value[i], depth + 1) ?? 'null';
    }
    return out + ']';
  }
  const rec = value as Record<string, unknown>;
  const keys = sortKeys(Object.keys(rec));
  let out = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const s = serialize(rec[key], depth + 1);
    if (s === undefined) continue;
    if (first) first = false;
    else out += ',';
    out += memberName(key) + s;
  }
  return out + '}';
}

/**
 * Insertion sort with `>` on strings, which compares UTF-16 code units: the order RFC 8785
 * §3.2.3 asks for. Objects here have a handful of members, where this beats Array#sort.
 */
function sortKeys(keys: string[]): string[] {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

// Quoted member names with their colon. Bounded in count and in size: names can come from request
// bodies, and one long name kept for the life of the process would be a memory leak to order.
const NAME_CACHE_MAX = 4096;
const NAME_CACHE_LONGEST = 64;
const nameCache = new Map<string, string>();

function memberName(key: string): string {
  if (key.length > NAME_CACHE_LONGEST) return quote(key) + ':';
  let q = nameCache.get(key);
  if (q === undefined) {
    q = quote(key) + ':';
    if (nameCache.size < NAME_CACHE_MAX) nameCache.set(key, q);
  }
  return q;
}

// Nothing to escape and no surrogate at all (so well formed): quoted as it is.
const PLAIN = /^[^\u0000-\u001f"\\\ud800-\udfff]*$/;

function quote(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  if (!s.isWellFormed()) throw new Error('Lone surrogate is not allowed');
  return JSON.stringify(s);
}
