/**
 * JSON Pointer (RFC 6901) read and copy-on-write replace over parsed JSON values.
 */

/** Tokens of a pointer ('' → [] = the whole document), or undefined when it is not a pointer. */
export function parsePointer(p: string): string[] | undefined {
  if (p === '') return [];
  if (!p.startsWith('/')) return undefined;
  const tokens = p.slice(1).split('/');
  // '~' must be followed by 0 or 1
  if (tokens.some((t) => /~(?![01])/.test(t))) return undefined;
  return tokens.map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

const INDEX = /^(?:0|[1-9]\d*)$/;

function child(doc: unknown, token: string): { found: boolean; value?: unknown } {
  if (Array.isArray(doc)) {
    if (!INDEX.test(token) || Number(token) >= doc.length) return { found: false };
    return { found: true, value: doc[Number(token)] };
  }
  // Own properties only; a raw big number (null prototype) is a value, not an object.
  if (doc !== null && typeof doc === 'object' && Object.getPrototypeOf(doc) !== null && Object.hasOwn(doc, token)) {
    return { found: true, value: (doc as Record<string, unknown>)[token] };
  }
  return { found: false };
}

/** The value at `tokens`, or found=false when a step is missing. */
export function getAt(doc: unknown, tokens: readonly string[]): { found: boolean; value?: unknown } {
  let cur: unknown = doc;
  for (const t of tokens) {
    const next = child(cur, t);
    if (!next.found) return { found: false };
    cur = next.value;
  }
  return { found: true, value: cur };
}

/** A copy of `doc` with the (existing) value at `tokens` replaced; untouched branches are shared. */
export function replaceAt(doc: unknown, tokens: readonly string[], value: unknown): unknown {
  const [head, ...tail] = tokens;
  if (head === undefined) return value;
  if (Array.isArray(doc)) {
    const i = Number(head);
    return doc.map((v, j) => (j === i ? replaceAt(v, tail, value) : v));
  }
  const rec = doc as Record<string, unknown>;
  // fromEntries: a "__proto__" key stays a data property.
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, k === head ? replaceAt(v, tail, value) : v]));
}
