/**
 * Request canonicalization: the first pipeline step. Turns the request line and raw headers into
 * a `CanonicalRequest` whose path is exactly what the policy sees and what the upstream gets.
 * Pure.
 *
 * Nothing is normalized away. A path-based authorizer and the server behind it must agree on
 * which resource a target names; every spelling on which two common implementations could
 * disagree (encoded separators, dot segments, path parameters, double encoding, Unicode
 * look-alikes…) is refused with a registry code instead of being rewritten, so there is no
 * "canonical form" the attacker can aim at and no rewrite the upstream might undo differently.
 *
 * What remains allowed in the path: RFC 3986 `pchar`s except `;`, and percent-escapes of
 * characters that cannot appear raw (space, `"`, `%`, non-ASCII as UTF-8…) or are reserved
 * (`:`, `@`, `!`, `$`, `&`, `'`, `(`, `)`, `*`, `+`, `,`, `=`, `[`, `]`…). Adapters and policies
 * should match on `segments` (decoded, so `%3A` and `:` are the same there), not on `path`.
 */
import { isRefusal, refuse } from './errors.ts';
import type { ErrorCode } from './errors.ts';
import { canonicalHeaders } from './headers.ts';
import type { HeaderPolicy } from './headers.ts';
import type { CanonicalRequest, Refusal } from './types.ts';

export type Route = { readonly name: string; readonly prefix: string };

/** The request target split and checked, before route matching. */
export type CanonicalTarget = {
  /** The whole path as received. */
  readonly path: string;
  /** Its segments, percent-decoded once as UTF-8 (`/` → []). */
  readonly segments: readonly string[];
  /** The query as received, without `?` ('' when none). */
  readonly rawQuery: string;
};

/** The route a path belongs to, and what is left of the path after its prefix. */
export type RouteMatch = {
  readonly name: string;
  readonly prefix: string;
  /** The path after the prefix, as received; always starts with `/`. */
  readonly rest: string;
  /** How many leading segments the prefix covers. */
  readonly depth: number;
};

function charset(s: string): ReadonlySet<number> {
  return new Set([...s].map((c) => c.charCodeAt(0)));
}
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** RFC 3986 unreserved: these must never be percent-encoded (see `encodedRefusal`). */
const UNRESERVED = charset(`${ALNUM}-._~`);
/** RFC 3986 pchar, raw, without `;` (refused as a path parameter) and `%` (handled as escapes). */
const PATH_RAW = charset(`${ALNUM}-._~!$&'()*+,=:@`);
/**
 * RFC 3986 query characters, raw, without `;`: some servers (Go before 1.17, Python before
 * 3.9.2, several PHP/Perl stacks) split parameters on `;` as well as `&`, so `?a=1;a=2` means
 * one thing to URLSearchParams and another to them. Every mainstream encoder escapes `;`.
 */
const QUERY_RAW = charset(`${ALNUM}-._~!$&'()*+,=:@/?`);

/** `%` followed by two hex digits, or IIS's `%uXXXX`: if one decoding leaves this, a second decoder downstream would act on it. */
const ESCAPE_AFTER_DECODE = /%(?:[0-9A-Fa-f]{2}|[uU][0-9A-Fa-f]{4})/;

// fatal: invalid UTF-8 throws instead of becoming U+FFFD. This refuses overlong forms
// (`%C0%AF` = an overlong `/`, `%C0%AE` = `.`, `%E0%80%AF`), which lenient decoders (old IIS,
// some Java and C stacks) turn into the ASCII character and so into a separator or dot segment
// the authorizer never saw; it also refuses encoded UTF-16 surrogates (`%ED%A0%80`, CESU-8),
// code points above U+10FFFF and truncated sequences. ignoreBOM: keep a leading U+FEFF so
// the format-character check below refuses it instead of it silently disappearing.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

type Escapes = { readonly bytes: readonly number[]; readonly malformed: boolean };

/**
 * The byte values of the `%XX` escapes in `s`. A `%` not followed by two hex digits is
 * malformed: `%zz`, a trailing `%` or `%2`, and IIS's `%u002f` form (which IIS decodes to `/`;
 * refusing the form refuses every `%uXXXX` trick at once).
 */
function escapesOf(s: string): Escapes {
  const bytes: number[] = [];
  let malformed = false;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 0x25) continue;
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hexValue(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) {
      malformed = true;
      continue;
    }
    bytes.push(hi * 16 + lo);
    i += 2;
  }
  return { bytes, malformed };
}

/** Percent-decode once into a string of one char per byte (call only on well-formed input). */
function decodeBinary(s: string): string {
  // Same as s.replace(/%([0-9A-Fa-f]{2})/g, byte), without a callback per escape.
  let i = s.indexOf('%');
  if (i < 0) return s;
  let out = '';
  let from = 0;
  while (i >= 0) {
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hexValue(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) {
      i = s.indexOf('%', i + 1);
      continue;
    }
    out += s.slice(from, i) + String.fromCharCode(hi * 16 + lo);
    from = i + 3;
    i = s.indexOf('%', from);
  }
  return out + s.slice(from);
}

function utf8(bin: string): string | undefined {
  // Fast path: all-ASCII bytes are already valid UTF-8 (the common case: ids, SOQL).
  if (ASCII_ONLY.test(bin)) return bin;
  try {
    return UTF8.decode(bytesOf(bin));
  } catch {
    return undefined;
  }
}

/** The bytes of a one-char-per-byte string (as `Uint8Array.from(bin, (c) => c.charCodeAt(0))`). */
function bytesOf(bin: string): Uint8Array {
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    // Only bytes get here (raw characters above U+007F are refused before decoding); anything
    // else takes the general conversion, which counts code points rather than code units.
    if (c > 0xff) return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    bytes[i] = c;
  }
  return bytes;
}

const isControl = (b: number): boolean => b < 0x20 || b === 0x7f;

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * Decoded code points that count as control characters: C1 controls (U+0080–U+009F; U+0085 NEL
 * is a line break to some log and header parsers) and the Unicode line/paragraph separators
 * U+2028/U+2029 (line terminators to JavaScript and to many log viewers).
 */
const UNICODE_CONTROL = /[\u0080-\u009f\u2028\u2029]/u;

/**
 * Characters nobody can reason about in a path: format characters (zero-width space and
 * joiners, bidi overrides that make a log show another path than the one requested, soft
 * hyphen, BOM — some stacks strip them, so `Con\u200Btact` becomes `Contact`), private-use
 * characters and unassigned code points (whose normalization a later Unicode version may define).
 */
const UNICODE_OPAQUE = /[\p{Cf}\p{Co}\p{Cn}]/u;

/**
 * Non-ASCII characters whose simple case mapping is ASCII: `ı`→`I`, `İ`→`i`, `ſ`→`S`, Kelvin
 * `K`→`k`. Java's `equalsIgnoreCase` and other case-insensitive comparisons (Salesforce object
 * names are case-insensitive) treat `Opportunıty` as `Opportunity`, while a case-sensitive
 * policy does not. `ß`→`SS` is a full mapping only and is not refused.
 */
function caseFoldsToAscii(ch: string): boolean {
  if (ch === '\u0130') return true; // İ: full lower-case mapping is `i` + U+0307, simple mapping is `i`
  const u = ch.toUpperCase();
  const l = ch.toLowerCase();
  return (u.length === 1 && u.charCodeAt(0) < 0x80) || (l.length === 1 && l.charCodeAt(0) < 0x80);
}

/**
 * Checks on one decoded path segment. Compatibility normalization (NFKC, which also implies
 * NFC): a segment must be its own NFKC form. Backends and filesystems that normalize (.NET and
 * Windows "best fit" mapping, Java's Normalizer, Python's NFKC identifiers, macOS NFD names)
 * turn fullwidth `／` (U+FF0F) into `/`, `＼` (U+FF3C) into `\`, `．．` or `‥` into `..`, `；`
 * into `;`, `％２ｆ` into `%2f`, `ｃｏｎｔａｃｔ` into `contact`, `ﬁ` into `fi`, NBSP into a
 * space, and decomposed `é` into composed `é`. The code says what the normalized form would
 * have been.
 */
function segmentRefusal(seg: string, n: number): Refusal | undefined {
  for (const ch of seg) {
    if (ch.charCodeAt(0) < 0x80) continue;
    if (UNICODE_CONTROL.test(ch)) return refuse('GW_ERR_REQ_CONTROL_CHAR', `Unicode control or line separator in path segment ${n}`);
    if (UNICODE_OPAQUE.test(ch)) return refuse('GW_ERR_REQ_BAD_ENCODING', `format, private-use or unassigned character in path segment ${n}`);
    if (caseFoldsToAscii(ch)) return refuse('GW_ERR_REQ_BAD_ENCODING', `non-ASCII character that case-maps to ASCII in path segment ${n}`);
  }
  const nfkc = seg.normalize('NFKC');
  if (nfkc === seg) return undefined;
  let code: ErrorCode = 'GW_ERR_REQ_BAD_ENCODING';
  if (nfkc.includes('/') || nfkc.includes('\\')) code = 'GW_ERR_REQ_ENCODED_SEPARATOR';
  else if (nfkc === '.' || nfkc === '..') code = 'GW_ERR_REQ_DOT_SEGMENT';
  else if (nfkc.includes(';')) code = 'GW_ERR_REQ_PATH_PARAMETER';
  else if (ESCAPE_AFTER_DECODE.test(nfkc)) code = 'GW_ERR_REQ_DOUBLE_ENCODING';
  return refuse(code, `path segment ${n} is not in Unicode normalization form NFKC`);
}

/** `PATH_RAW` and `/`, as a table indexed by char code (ASCII only). */
const PATH_PLAIN = asciiTable(PATH_RAW, 0x2f);
/** `QUERY_RAW` as a table indexed by char code (ASCII only); `%` is handled separately. */
const QUERY_PLAIN = asciiTable(QUERY_RAW);

function asciiTable(chars: ReadonlySet<number>, ...more: number[]): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c] = 1;
  for (const c of more) t[c] = 1;
  return t;
}

/**
 * The segments of a path made only of characters allowed raw (`PATH_PLAIN`: no `%`, `;`, `\`,
 * control, non-ASCII…), with no empty and no dot segment; undefined for any other path. Such a
 * path passes every check in `checkTarget`, and its segments need no decoding: ASCII is valid
 * UTF-8 and its own NFKC form. `path` starts with `/`.
 */
function plainSegments(path: string): string[] | undefined {
  const n = path.length;
  if (n === 1) return [];
  const segments: string[] = [];
  let start = 1;
  for (let i = 1; i <= n; i++) {
    const c = i < n ? path.charCodeAt(i) : 0x2f;
    if (c === 0x2f) {
      const len = i - start;
      if (len === 0) return undefined; // empty segment
      if (len <= 2 && path.charCodeAt(start) === 0x2e && (len === 1 || path.charCodeAt(start + 1) === 0x2e)) return undefined; // . or ..
      segments.push(path.slice(start, i));
      start = i + 1;
    } else if (c >= 0x80 || PATH_PLAIN[c] === 0) return undefined;
  }
  return segments;
}

/**
 * Whether a query passes every check in `checkTarget` for certain: only characters allowed raw
 * (`QUERY_PLAIN`) and well-formed escapes of printable ASCII other than `%` itself (so nothing
 * to double-decode, no control character, and UTF-8 validity is trivial). False means "check it
 * in full", not "refuse".
 */
function plainQuery(q: string): boolean {
  for (let i = 0; i < q.length; i++) {
    const c = q.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(q.charCodeAt(i + 1));
      const lo = hexValue(q.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return false;
      const b = hi * 16 + lo;
      if (b < 0x20 || b >= 0x7f || b === 0x25) return false;
      i += 2;
    } else if (c >= 0x80 || QUERY_PLAIN[c] === 0) return false;
  }
  return true;
}

/**
 * Split and check a request target. Only origin form (`/path?query`) is accepted. Checks run
 * in a fixed order, so a target with several faults always gets the same code: control
 * characters, malformed escapes, double encoding, backslash, encoded separator, path parameter,
 * dot segment, empty segment, then everything else under GW_ERR_REQ_BAD_ENCODING.
 *
 * Fast path: a target whose path and query are plain (see `plainSegments`, `plainQuery`) passes
 * every check; anything else — including every target that is refused — goes through
 * `checkTarget`, which runs the checks one by one in the documented order.
 */
export function canonicalTarget(rawTarget: string): CanonicalTarget | Refusal {
  if (rawTarget.charCodeAt(0) === 0x2f) {
    const qi = rawTarget.indexOf('?');
    const path = qi < 0 ? rawTarget : rawTarget.slice(0, qi);
    const rawQuery = qi < 0 ? '' : rawTarget.slice(qi + 1);
    const segments = plainSegments(path);
    if (segments !== undefined && plainQuery(rawQuery)) return { path, segments, rawQuery };
  }
  return checkTarget(rawTarget);
}

/** `canonicalTarget` without the fast path: every check, in order. */
function checkTarget(rawTarget: string): CanonicalTarget | Refusal {
  // Absolute form (`http://h/p`), authority form (`h:443`, CONNECT) and asterisk form (`*`,
  // OPTIONS) name the target some other way than a path; a proxy that honoured the absolute
  // form's authority would route by a host the policy never saw.
  if (!rawTarget.startsWith('/')) return refuse('GW_ERR_REQ_NON_ORIGIN_FORM', 'the request target must start with /');

  // NUL, CR, LF, TAB, DEL raw anywhere: header/log injection and truncation in C-string stacks.
  for (let i = 0; i < rawTarget.length; i++) {
    if (isControl(rawTarget.charCodeAt(i))) return refuse('GW_ERR_REQ_CONTROL_CHAR', 'raw control character in the target');
  }

  const qi = rawTarget.indexOf('?');
  const path = qi < 0 ? rawTarget : rawTarget.slice(0, qi);
  const rawQuery = qi < 0 ? '' : rawTarget.slice(qi + 1);

  const pathEsc = escapesOf(path);
  const queryEsc = escapesOf(rawQuery);
  if (pathEsc.bytes.some(isControl)) return refuse('GW_ERR_REQ_CONTROL_CHAR', 'encoded control character in the path');
  if (queryEsc.bytes.some(isControl)) return refuse('GW_ERR_REQ_CONTROL_CHAR', 'encoded control character in the query');
  if (pathEsc.malformed) return refuse('GW_ERR_REQ_BAD_ENCODING', 'malformed percent-escape in the path');
  if (queryEsc.malformed) return refuse('GW_ERR_REQ_BAD_ENCODING', 'malformed percent-escape in the query');

  const rawSegs = path.split('/').slice(1);
  const binSegs = rawSegs.map(decodeBinary);
  // Query pieces between raw `&` and `=`: escapes cannot straddle them, and a UTF-8 sequence
  // cannot contain them, so checking pieces is as strict as checking each name and value.
  const queryPieces = rawQuery === '' ? [] : rawQuery.split(/[&=]/).map(decodeBinary);

  // `%252F` decodes to `%2F`: harmless to us, a `/` to any component that decodes again.
  // Checked on the decoded text, so `%25%32%46` is caught as well as `%252F`.
  if (binSegs.some((s) => ESCAPE_AFTER_DECODE.test(s))) return refuse('GW_ERR_REQ_DOUBLE_ENCODING', 'double percent-encoding in the path');
  if (queryPieces.some((s) => ESCAPE_AFTER_DECODE.test(s))) return refuse('GW_ERR_REQ_DOUBLE_ENCODING', 'double percent-encoding in the query');

  // Windows servers, IIS and some Java and Node static servers treat `\` as `/`.
  if (path.includes('\\')) return refuse('GW_ERR_REQ_BACKSLASH', 'backslash in the path');
  // `%2F` is a separator to servers that decode before splitting and data to those that do
  // not; `/sf/a%2F..%2Fadmin` reads differently to each.
  if (pathEsc.bytes.some((b) => b === 0x2f || b === 0x5c)) return refuse('GW_ERR_REQ_ENCODED_SEPARATOR', 'encoded / or \\ in the path');
  // Tomcat and other servlet containers drop `;params` from segments (`/..;/admin`, `/a;x=1/b`).
  if (path.includes(';') || pathEsc.bytes.includes(0x3b)) return refuse('GW_ERR_REQ_PATH_PARAMETER', '; in the path');
  for (let i = 0; i < binSegs.length; i++) {
    const s = binSegs[i];
    if (s === '.' || s === '..') return refuse('GW_ERR_REQ_DOT_SEGMENT', `dot segment at path segment ${i + 1}`);
  }
  // `//` is collapsed by some servers and not others, and `//host/…` reads as a network-path
  // reference to URL parsers. A trailing `/` is refused too (an empty last segment): many
  // servers treat `/a/` as `/a`, so it would be a second spelling of the same resource.
  if (path !== '/' && rawSegs.includes('')) return refuse('GW_ERR_REQ_EMPTY_SEGMENT', 'empty path segment');

  // A fragment is never sent by a conforming client; a server that truncates at `#` and one
  // that does not see different paths.
  if (rawTarget.includes('#')) return refuse('GW_ERR_REQ_BAD_ENCODING', '# in the target');
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // Raw non-ASCII (Node hands us the bytes as latin1 chars), spaces, `"<>[]^`{|}`: not URI
    // characters at all, so every server repairs them in its own way.
    if (c !== 0x2f && c !== 0x25 && !PATH_RAW.has(c)) return refuse('GW_ERR_REQ_BAD_ENCODING', 'character not allowed in a path');
  }
  for (let i = 0; i < rawQuery.length; i++) {
    const c = rawQuery.charCodeAt(i);
    if (c !== 0x25 && !QUERY_RAW.has(c)) return refuse('GW_ERR_REQ_BAD_ENCODING', 'character not allowed in a query (; must be encoded)');
  }
  for (const b of pathEsc.bytes) {
    // `%43ontact` and `Contact` are the same resource to every server (RFC 3986 §6.2.2.2) but
    // different strings to a policy; unreserved characters have exactly one spelling, raw.
    if (UNRESERVED.has(b)) return refuse('GW_ERR_REQ_BAD_ENCODING', 'percent-encoded unreserved character in the path');
    // `%3F` and `%23` end the path for any component that decodes and then re-parses the URL.
    if (b === 0x3f || b === 0x23) return refuse('GW_ERR_REQ_BAD_ENCODING', 'encoded ? or # in the path');
  }

  const segments: string[] = [];
  for (let i = 0; i < binSegs.length; i++) {
    const seg = utf8(binSegs[i] as string);
    if (seg === undefined) return refuse('GW_ERR_REQ_BAD_ENCODING', `path segment ${i + 1} is not valid UTF-8`);
    const r = segmentRefusal(seg, i + 1);
    if (r) return r;
    segments.push(seg);
  }
  for (const piece of queryPieces) {
    // URLSearchParams would turn invalid UTF-8 into U+FFFD; the upstream may decode it otherwise.
    const text = utf8(piece);
    if (text === undefined) return refuse('GW_ERR_REQ_BAD_ENCODING', 'query is not valid UTF-8');
    if (UNICODE_CONTROL.test(text)) return refuse('GW_ERR_REQ_CONTROL_CHAR', 'Unicode control or line separator in the query');
  }

  return { path, segments: path === '/' ? [] : segments, rawQuery };
}

/**
 * The longest route prefix that matches `path` on a segment boundary (`/sf` matches `/sf` and
 * `/sf/x`, not `/sfx`); case-sensitive, compared on the raw path (unreserved characters cannot
 * be encoded, so there is one spelling of a prefix). Ties go to the first route listed.
 */
export function matchRoute(path: string, routes: readonly Route[]): RouteMatch | undefined {
  let best: Route | undefined;
  let bestLen = -1;
  for (const route of routes) {
    const prefix = route.prefix;
    if (!prefix.startsWith('/')) continue;
    // The prefix without one trailing `/`; `path` must equal it or continue with `/`.
    const len = prefix.endsWith('/') ? prefix.length - 1 : prefix.length;
    if (len > path.length || !path.startsWith(len === prefix.length ? prefix : prefix.slice(0, len))) continue;
    if (len < path.length && path.charCodeAt(len) !== 0x2f) continue;
    if (len > bestLen) {
      best = route;
      bestLen = len;
    }
  }
  if (best === undefined) return undefined;
  let depth = 0;
  for (let i = 0; i < bestLen; i++) if (best.prefix.charCodeAt(i) === 0x2f) depth++;
  return {
    name: best.name,
    prefix: best.prefix,
    rest: path.slice(bestLen) || '/',
    depth,
  };
}

/**
 * Canonicalize a request: check the target, match it to an upstream route, and apply the
 * header policy to Node's `req.rawHeaders` (name, value, name, value…). `method` is passed
 * through as given (Node's parser only produces upper-case RFC 9110 tokens).
 */
export function canonicalize(
  method: string,
  rawTarget: string,
  rawHeaders: readonly string[],
  routes: readonly Route[],
  opts: HeaderPolicy,
): CanonicalRequest | Refusal {
  const target = canonicalTarget(rawTarget);
  if (isRefusal(target)) return target;
  const route = matchRoute(target.path, routes);
  if (route === undefined) return refuse('GW_ERR_REQ_NO_ROUTE', 'no upstream route matches the path');
  const h = canonicalHeaders(rawHeaders, opts);
  if (isRefusal(h)) return h;
  return {
    method,
    upstream: route.name,
    path: route.rest,
    segments: target.segments.slice(route.depth),
    rawQuery: target.rawQuery,
    query: new URLSearchParams(target.rawQuery),
    headers: h.headers,
  };
}
