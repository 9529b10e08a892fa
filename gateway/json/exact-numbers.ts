/**
 * Numbers a JS number cannot hold exactly (12345678901234567890, 1e400, 17+ significant digits)
 * are kept as `JSON.rawJSON(source)` so that re-serializing writes the original digits: the
 * upstream, and any policy reading the raw text, must see the same value as the gateway writes.
 */

// Node 24 has JSON.rawJSON / JSON.isRawJSON and the reviver's context argument; TypeScript's
// lib (5.9) does not declare them yet.
type RawJsonApi = {
  rawJSON(text: string): object;
  isRawJSON(value: unknown): boolean;
};
const rawJsonApi = JSON as unknown as RawJsonApi;

/** Whether `v` is a number kept verbatim by the parser (a `JSON.rawJSON` value). */
export function isRawJson(v: unknown): boolean {
  return rawJsonApi.isRawJSON(v);
}

/** JSON.parse reviver replacing inexact numbers with raw JSON of their source text. */
export function exactNumberReviver(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || context?.source === undefined) return value;
  const source = context.source;
  if (sameDecimal(source, String(value))) return value;
  return rawJsonApi.rawJSON(source);
}

/**
 * Whether two decimal literals denote the same value, comparing normalized digits and
 * exponents (so "1.0", "1e0" and "1" are equal; "-0" equals "0" as in JS).
 */
export function sameDecimal(a: string, b: string): boolean {
  const x = normalize(a);
  const y = normalize(b);
  return x !== undefined && x === y;
}

/** "-0012.3400e+1" → "-1234e-1"; undefined for non-finite spellings such as "Infinity". */
function normalize(s: string): string | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return undefined;
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  let digits = (int + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let e = Number(exp) - frac.length;
  const trailing = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  e += trailing;
  return `${sign}${digits}e${e}`;
}
