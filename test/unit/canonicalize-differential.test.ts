/**
 * Differential test: the optimized canonicalize / canonicalTarget / matchRoute / canonicalHeaders
 * must return exactly what the reference copy of the previous implementation
 * (test/fixtures/canonicalize-reference.ts) returns — the same refusal (code and detail) or the
 * same canonical request, compared in full: key order, Map entry order, URLSearchParams entries
 * and serialization, array contents. Inputs: everything the existing unit tests use, plus
 * several thousand targets and header lists from a seeded generator.
 */
import t, { type Test } from 'tap';
import { canonicalize, canonicalTarget, matchRoute } from '../../gateway/canonicalize.ts';
import type { Route } from '../../gateway/canonicalize.ts';
import { DEFAULT_HEADER_POLICY, canonicalHeaders, removedHeaderNames } from '../../gateway/headers.ts';
import type { HeaderPolicy } from '../../gateway/headers.ts';
import { refCanonicalHeaders, refCanonicalTarget, refCanonicalize, refMatchRoute, refRemovedHeaderNames } from '../fixtures/canonicalize-reference.ts';
import { seededRandom } from '../fixtures/seeded-random.ts';

// ---------------------------------------------------------------- exact comparison

/** A JSON-able picture of a value that keeps everything a caller could observe. */
function exact(v: unknown): unknown {
  if (v === undefined) return { undefined: true };
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof URLSearchParams) return { URLSearchParams: [...v], text: v.toString(), size: v.size, proto: Object.getPrototypeOf(v) === URLSearchParams.prototype };
  if (v instanceof Map) return { Map: [...v].map(([k, x]) => [exact(k), exact(x)]), proto: Object.getPrototypeOf(v) === Map.prototype };
  if (Array.isArray(v)) return { Array: v.map(exact), keys: Object.keys(v).length, frozen: Object.isFrozen(v) };
  const o = v as Record<string, unknown>;
  return { Object: Object.keys(o).map((k) => [k, exact(o[k])]), plain: Object.getPrototypeOf(o) === Object.prototype, frozen: Object.isFrozen(o) };
}
const show = (v: unknown): string => JSON.stringify(exact(v));

type Mismatch = { input: unknown; got: unknown; want: unknown };
function differ(got: unknown, want: unknown): boolean {
  return show(got) !== show(want);
}
function report(t: Test, what: string, n: number, bad: Mismatch[]): void {
  t.equal(bad.length, 0, `${what}: ${n} inputs, ${bad.length} differ`);
  for (const m of bad.slice(0, 5)) t.same(exact(m.got), exact(m.want), `${what} differs for ${JSON.stringify(m.input)}`);
}

/** Compare canonicalHeaders and removedHeaderNames with the reference; returns the reference's answer. */
function compareHeaders(raw: readonly string[], policy: HeaderPolicy, bad: Mismatch[]): ReturnType<typeof refCanonicalHeaders> {
  const got = canonicalHeaders(raw, policy);
  const want = refCanonicalHeaders(raw, policy);
  if (differ(got, want)) bad.push({ input: [raw, policy], got, want });
  const gotNames = removedHeaderNames(raw, policy);
  const wantNames = refRemovedHeaderNames(raw, policy);
  if (differ(gotNames, wantNames)) bad.push({ input: ['removedHeaderNames', raw, policy], got: gotNames, want: wantNames });
  return want;
}

/** Compare matchRoute with the reference. */
function compareRoute(path: string, routes: Route[], bad: Mismatch[]): void {
  const got = matchRoute(path, routes);
  const want = refMatchRoute(path, routes);
  if (differ(got, want)) bad.push({ input: [path, routes], got, want });
}

// ---------------------------------------------------------------- policies and routes

const P = DEFAULT_HEADER_POLICY;
const policies: HeaderPolicy[] = [
  P,
  { ...P, dropUnderscoreNames: false },
  { ...P, postureHeader: 'x-posture-jws' },
  { ...P, postureHeader: 'x-gateway-posture' },
  { ...P, postureHeader: 'X_Odd_Posture', dropUnderscoreNames: false },
  { ...P, keep: ['X-Forwarded-Proto', 'te', 'x_gateway_subject', 'X-Device-Managed'] },
  { ...P, strip: [...P.strip, 'X-Legacy-User', 'Accept'], stripPrefixes: [...P.stripPrefixes, 'x_acme_', ''] },
  { strip: ['Accept', 'cookie'], stripPrefixes: ['X', 'user_'], postureHeader: 'host', dropUnderscoreNames: false },
  { strip: [], stripPrefixes: [], postureHeader: 'x-device-posture-assertion' },
];

const testRoutes: Route[] = [
  { name: 'sf', prefix: '/sf' },
  { name: 'sf-data', prefix: '/sf/data' },
  { name: 'hubspot', prefix: '/hubspot' },
];
const routeSets: Route[][] = [
  testRoutes,
  [
    { name: 'root', prefix: '/' },
    { name: 'a', prefix: '/a' },
    { name: 'ab', prefix: '/a/b' },
    { name: 'ab2', prefix: '/a/b/' },
    { name: 'bad', prefix: 'a' },
  ],
  [
    { name: 'root', prefix: '/' },
    { name: 'sf', prefix: '/sf/' },
    { name: 'sf-data', prefix: '/sf/data/' },
    { name: 'empty', prefix: '' },
    { name: 'bad', prefix: 'sf' },
  ],
  [],
  [
    { name: 'dup1', prefix: '/sf' },
    { name: 'dup2', prefix: '/sf' },
    { name: 'dup3', prefix: '/sf/' },
    { name: 'hs', prefix: '/hubspot/crm/v3' },
    { name: 'hs-root', prefix: '/hubspot' },
  ],
  [
    { name: 'enc', prefix: '/sf/a%20b' },
    { name: 'latin', prefix: '/s\u00e9' },
    { name: 'slashes', prefix: '//' },
    { name: 'sf', prefix: '/sf' },
  ],
];

// ---------------------------------------------------------------- inputs of the existing tests

/** Every target used by test/unit/canonicalize.test.ts. */
const existingTargets: string[] = [
  '/sf', '/sf?', '/sf?q=1', '/sf/services/data/v59.0/sobjects/Contact/003xx', '/sf/data', '/sf/data/x', '/sf/datax',
  '/sf/query?q=SELECT+Id+FROM+Account', '/sf/a%20b', '/sf/caf%C3%A9', '/sf/caf%c3%a9', '/sf/Stra%C3%9Fe', '/sf/a%3Ab',
  "/sf/a:b@c!$&'()*+,=-._~", "/sf/accounts(name='x%20y')", '/sf/a%25b', '/sf/x?a=%2F&b=%5C', '/sf/x?a=100%25',
  '/sf/x?a=b?c/d:e@f', '/sf/x?$filter=name%20eq%20%27a%27&$top=5', '/hubspot/crm/v3/objects/contacts?properties=email&properties=firstname',
  'http://evil.example/sf/x', 'evil.example:443', '*', '', 'sf/x',
  '/sf/a%2Fb', '/sf/a%2fb', '/sf/a%5Cb', '/sf/a%5cb', '/sf/x%2F..%2Fadmin',
  '/sf/a\\b', '/sf\\..\\admin',
  '/sf/..', '/sf/./x', '/sf/x/../admin', '/sf/%2e%2e/x', '/sf/%2E%2e/x', '/sf/.%2e/x', '/sf/%2e/x', '/nope/../sf',
  '/sf/a;b', '/sf/..;/admin', '/sf/x;jsessionid=1', '/sf/a%3Bb', '/sf/a%3bb',
  '/sf/a\u0000b', '/sf/a\r\nX-Injected: 1', '/sf/a\tb', '/sf/a%00', '/sf/a%0d%0a', '/sf/a%0A', '/sf/a%7f', '/sf/x?a=%00', '/sf/x?a=\u007f',
  '/sf/a%C2%85', '/sf/a%E2%80%A8', '/sf/x?a=%C2%85', '/sf/%zz/%00',
  '/sf/%252F', '/sf/%255c', '/sf/%252e%252e/x', '/sf/%25%32%46', '/sf/%25u002f', '/sf/x?a=%2541', '/sf/x?a=%250a',
  '/sf/%zz', '/sf/a%2', '/sf/a%', '/sf/%u002f', '/sf/x?a=%g1',
  '/sf/%c0%af', '/sf/%c0%ae%c0%ae/x', '/sf/%e0%80%af', '/sf/%ed%a0%80', '/sf/%ff', '/sf/%C3', '/sf/x?a=%ff', '/sf/x?a=%C3&b=%A9',
  '/sf//x', '//sf/x', '/sf/x/', '/sf/', '//evil.example/sf',
  '/sf/a b', '/sf/a#b', '/sf/x?a=1#frag', '/sf/caf\u00c3\u00a9', '/sf/caf\u00e9', '/sf/a"b', '/sf/a<b>', '/sf/a|b', '/sf/a{b}', '/sf/a^b',
  '/sf/a`b', '/sf/a[0]', '/sf/x?a=1;a=2', '/sf/x?a b', '/sf/x?a[]=1', '/sf/x?a=\\', '/sf/x?a=\u00e9',
  '/sf/%43ontact', '/sf/v59%2E0', '/sf/a%7Eb', '/s%66/x', '/sf/a%3Fb', '/sf/a%23b',
  '/sf/a%EF%BC%8Fb', '/sf/a%EF%BC%BCb', '/sf/%EF%BC%8E%EF%BC%8E/x', '/sf/%E2%80%A5/x', '/sf/a%EF%BC%9Bb', '/sf/%EF%BC%852f',
  '/sf/%EF%BD%83ontact', '/sf/%EF%AC%81le', '/sf/e%CC%81', '/sf/a%C2%A0b', '/sf/Con%E2%80%8Btact', '/sf/%E2%80%AEtcatnoC',
  '/sf/%EF%BB%BFContact', '/sf/%EE%80%80', '/sf/Opportun%C4%B1ty', '/sf/%C4%B0d', '/sf/Contact%C5%BF', '/sf/%E2%84%AAey',
  '/sfx', '/SF/x', '/', '/other/sf', '/sf/../%2f', '/sf/a;b/..', '/sf/%252f\\',
  '/sf/query?q=SELECT+Id+FROM+Account+WHERE+Name+%3D+%27A%26B%27', '/sf/x', '/nope/%2F', '/a/b%20c?x=1', '/a/b/c/d', '/a/b/c', '/a/bc', '/a', '/A', '/x',
];

/** Every header list used by test/unit/headers.test.ts and test/unit/canonicalize.test.ts. */
const stripNames = [
  'X-Gateway-Subject', 'x-gateway-tenant', 'X-GATEWAY-DECISION-ID', 'X-Forwarded-User', 'x-forwarded-email', 'X-Forwarded-Groups',
  'X-Forwarded-Preferred-Username', 'X-Forwarded-For', 'X-Forwarded-Access-Token', 'X-Auth-Request-User', 'X-Remote-User', 'Remote-User',
  'Remote-Groups', 'X-User', 'X-User-Id', 'X-Tenant', 'X-Tenant-Id', 'X-Device-Managed', 'X-Device-Compliant', 'X-Client-Cert',
  'X-Client-Cert-Chain', 'X-SSL-Client-Verify', 'X-JWT-Assertion', 'X-Principal', 'X-Principal-Id', 'X-Roles', 'X-Scopes', 'X-Userinfo',
  'X-Id-Token', 'X-Access-Token', 'Forwarded', 'X-Real-IP', 'X-Original-URL', 'X-Rewrite-URL', 'X-HTTP-Method-Override', 'MSCRMCallerID',
  'CallerObjectId', 'X-Amzn-Oidc-Data', 'X-MS-CLIENT-PRINCIPAL-NAME', 'X-Goog-Authenticated-User-Email', 'Cf-Access-Jwt-Assertion',
  'X-Pomerium-Jwt-Assertion', 'Impersonate-User', 'X-Middleware-Subrequest', 'X-Envoy-Original-Path', 'X-Device-Posture-Assertion',
  'x-device-posture-assertion', 'Authorization', 'Content-Type', 'X-Request-Id', 'X-Userx', 'Sforce-Query-Options', 'Prefer',
];
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'];
const existingHeaderLists: string[][] = [
  ['Host', 'gw.example', 'Authorization', 'Bearer abc'],
  ['Host', 'gw', 'AUTHORIZATION', 'Bearer abc', 'Accept', 'application/json', 'X-Request-Id', ' r1 '],
  ...stripNames.map((n) => [n, 'v']),
  ['X_Gateway_Subject', 'mallory', 'X_Custom', '1', 'X-Custom', '2'],
  ['X_Gateway_Subject', 'mallory', 'x_forwarded_user', 'm', 'X_Custom', '1', 'X_DEVICE_POSTURE_ASSERTION', 'jws'],
  ['Accept', 'a', 'accept', 'b', 'ACCEPT', 'c', 'Cookie', 'a=1', 'cookie', 'b=2', 'X-Tag', '', 'x-tag', 'z'],
  ['Authorization', 'Bearer a', 'authorization', 'Bearer b'],
  ['Host', 'a', 'HOST', 'b'],
  ['Content-Length', '1', 'content-length', '1'],
  ['Content-Type', 'application/json', 'Content-Type', 'text/plain'],
  ['X-Device-Posture-Assertion', 'a', 'x-device-posture-assertion', 'b'],
  [...HOP.flatMap((h) => [h.toUpperCase(), 'x']), 'Accept', 'a'],
  ['X-Custom', '1', 'Connection', 'keep-alive, X-Custom,  x-other ,, close', 'X-Other', '2', 'x-third', '3', 'Connection', 'X_Third'],
  ...['authorization', 'Authorization', 'content-type', 'Content_Length', 'HOST', 'content-encoding', 'x-device-posture-assertion'].map((n) => ['Authorization', 'Bearer a', 'Connection', `keep-alive, ${n}`]),
  ['Connection', 'X-Posture-JWS'],
  ['Content-Length', '5', 'Transfer-Encoding', 'chunked'],
  ['Transfer-Encoding', 'chunked', 'Content-Type', 'application/json'],
  ['X-Device-Posture-Assertion', 'eyJ.a.b', 'X-Device-Id', 'd1', 'X-Device-Posture', 'managed'],
  ['X-Gateway-Posture', 'eyJ.a.b', 'X-Gateway-Subject', 'm', 'X-Device-Posture-Assertion', 'x'],
  ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'h', 'TE', 'trailers'],
  ['x-legacy-user', 'u', 'X-Acme-Role', 'admin', 'X-Acme', 'kept'],
  ['Bad Name', 'v'],
  ['X-A', 'a\r\nX-Gateway-Subject: m'],
  ['X-A', 'a\u0000'],
  ['X-A'],
  ['X-A', 'tab\there', 'X-B', 'caf\u00c3\u00a9'],
  [':method', 'GET', ':path', '/sf', ':authority', 'gw', 'accept', 'a'],
  ['X-Gateway-Subject', 'm', 'Connection', 'x-a', 'X-A', '1', 'Accept', 'a'],
  ['Authorization', 'a', 'Authorization', 'b'],
  ['Host', 'gw.example', 'Authorization', 'Bearer abc', 'X-Gateway-Subject', 'mallory', 'X-Device-Posture-Assertion', 'eyJ.x.y', 'X-Device-Managed', 'true'],
  ['Host', 'gw.example', 'Authorization', 'Bearer abc', 'X-Gateway-Subject', 'mallory', 'X-Device-Posture-Assertion', 'eyJ.x.y', 'X-Device-Managed', 'true', 'authorization', 'Bearer other'],
  ['Connection', 'authorization'],
  [],
];

// ---------------------------------------------------------------- generators

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const CLEAN_PATH = ['sf', 'hubspot', 'data', 'services', 'v60.0', 'query', 'Contact', 'a', 'b', 'Z9', '003xx', '-', '_', '~', 'x.y', '...', "!$&'()*+,=:@", '%20', '%3A', '%3a', '%C3%A9', '%c3%a9', '%E2%82%AC', '%F0%9F%98%80', '%25', '%2C', '%40', '%5B', '%5D', '%22', '%C3%9F', '%CE%A9'];
const RISKY_PATH = [
  '.', '..', '/', '//', ';', '%2F', '%2f', '%5C', '%5c', '%00', '%0D', '%0d', '%0A', '%0a', '%09', '%1F', '%7F', '%7f', '%2E', '%2e', '%252F', '%252f', '%2541', '%25u002f', '%25U0041', '%25%32%46',
  '%u002f', '%3B', '%3b', '%3F', '%3f', '%23', '%41', '%61', '%30', '%7E', '%7e', '%2D', '%5F', '%C3', '%A9', '%E2%80%A8', '%E2%80%A9', '%C2%85', '%C2%80', '%C2%9F',
  '%EF%BC%8F', '%EF%BC%BC', '%EF%BC%8E', '%E2%80%A5', '%EF%BC%9B', '%EF%BC%85', '%EF%BD%83', '%EF%AC%81', '%CC%81', '%C2%A0', '%E2%80%8B', '%E2%80%AE', '%EF%BB%BF',
  '%EE%80%80', '%EF%BF%BF', '%F3%A0%80%81', '%C4%B1', '%C4%B0', '%C5%BF', '%E2%84%AA', '%E2%84%A6', '%ED%A0%80', '%ED%B0%80', '%F4%8F%BF%BF', '%F4%90%80%80', '%F8%88%80%80%80',
  '%C0%AF', '%C0%AE', '%E0%80%AF', '%FF', '%fe', '%80', '%zz', '%', '%2', '%g1', '%%', '\\', '?', '#', '&', '=', '+', ' ', '"', '<', '>', '[', ']', '|', '^', '`', '{', '}',
  '\u00e9', '\u00c3\u00a9', '\r', '\n', '\t', '\u0000', '\u007f', '\u0130', '\u2028', '\ud800', '\u{1F600}', '\uff0f', 'e\u0301',
];
const CLEAN_QUERY = ['q', 'SELECT', '%20', 'Id', ',', 'Name', 'FROM', 'Contact', 'LIMIT', '50', '+', '%27', '%3D', '%26', '%2F', '%5C', '%2f', '%3B', '%23', '?', '/', ':', '@', '$top', '5', '%2E', '%41', '-', '.', '_', '~', '!', '(', ')', '*', "'"];
const RISKY_QUERY = [
  '%00', '%0A', '%0d', '%09', '%7F', '%7f', '%25', '%2541', '%250a', '%252F', '%25u0041', '%25%34%31', '%C3%A9', '%C3', '%A9', '%FF', '%C2%85', '%E2%80%A8', '%E2%80%A9', '%ED%A0%80',
  '%EF%BB%BF', '%E2%80%8B', '%C0%AF', '%zz', '%', '%2', '%u0041', '#', '\\', ';', ' ', '\u00e9', '[', ']', '"', '<', '|', '^', '`', '{', '}', '\u007f', '\r', '\n', '\u0000', '\ud800',
  '&', '=', '&&', '==', '?',
];
/** Origin-form bases under the routes, and a few odd starts (non-origin, empty or dot first segments…). */
const BASES = ['', '/sf', '/sf', '/sf', '/sf/data', '/hubspot', '/a/b', '/a'];
const ODD_BASES = ['', '*', 'http://evil.example/sf', 'sf', '/', '/SF', '%2Fsf', '\\sf', '/sf/', '/.', '/..', '/%2e', '/sf;x', '/s%66'];
/** Whole segments that are (or normalize to) a dot segment, or empty. */
const DOT_SEGS = ['.', '..', '%2e', '%2E%2e', '.%2e', '%2e.', '', '%EF%BC%8E%EF%BC%8E', '%E2%80%A5', '%EF%BC%8E', '...', '.;', '%2e%2e%2f'];

function genTarget(r: Rng): string {
  const risk = pick(r, [0, 0, 0.03, 0.1, 0.3]);
  const token = (clean: readonly string[], risky: readonly string[]) => (r() < risk ? pick(r, risky) : pick(r, clean));
  let s = r() < 0.85 ? pick(r, BASES) : pick(r, ODD_BASES);
  if (s === '*' && r() < 0.7) return s;
  for (let i = int(r, 0, 6); i > 0; i--) {
    let seg = '';
    if (r() < risk / 2) seg = pick(r, DOT_SEGS);
    else for (let j = int(r, 1, 3); j > 0; j--) seg += token(CLEAN_PATH, RISKY_PATH);
    s += `/${seg}`;
  }
  if (s === '' && r() < 0.9) s = '/';
  if (r() < 0.03) s += '/';
  if (r() < 0.6) {
    s += '?';
    const nParam = int(r, 0, 5);
    const params: string[] = [];
    for (let i = 0; i < nParam; i++) {
      let name = '';
      for (let j = int(r, 1, 2); j > 0; j--) name += token(CLEAN_QUERY, RISKY_QUERY);
      let value = '';
      for (let j = int(r, 0, 8); j > 0; j--) value += token(CLEAN_QUERY, RISKY_QUERY);
      params.push(r() < 0.1 ? name : `${name}=${value}`);
    }
    s += params.join(r() < risk ? pick(r, [';', '&&', '#']) : '&');
  }
  if (r() < risk * 0.3) s += `#${pick(r, ['frag', '', 'a/b'])}`;
  // An upper/lower-case hex variant of the whole target now and then.
  if (r() < 0.1) s = s.replace(/%[0-9A-Fa-f]{2}/g, (m) => (r() < 0.5 ? m.toUpperCase() : m.toLowerCase()));
  return s;
}

const GOOD_NAMES = [
  'Host', 'host', 'HOST', 'Authorization', 'authorization', 'AUTHORIZATION', 'Content-Length', 'content-length', 'Content-Type', 'content_type', 'Content_Length',
  'Content-Encoding', 'Transfer-Encoding', 'transfer-encoding', 'Transfer_Encoding', 'Connection', 'connection', 'CONNECTION', 'Keep-Alive', 'keep_alive', 'Proxy-Connection',
  'TE', 'te', 'Trailer', 'Upgrade', 'HTTP2-Settings', 'Proxy-Authorization', 'X-Gateway-Subject', 'x-gateway-tenant', 'X_Gateway_Subject', 'X-Forwarded-For',
  'x_forwarded_user', 'X-Forwarded-Proto', 'X-Device-Posture-Assertion', 'x-device-posture-assertion', 'X_Device_Posture_Assertion', 'x_odd_posture', 'X-Odd-Posture',
  'X-Device-Managed', 'X-Posture-JWS', 'x-gateway-posture', 'Accept', 'accept', 'Accept-Encoding', 'User-Agent', 'Cookie', 'cookie', 'COOKIE', 'X-Custom', 'x-custom',
  'X_Custom', 'X-Other', 'x-third', 'X-Userx', 'X-User', 'x-user-id', 'user_agent', 'Remote-User', 'remote-groups', 'X-Legacy-User', 'X-Acme-Role', 'X-Acme', 'x_acme_role',
  'Forwarded', 'MSCRMCallerID', 'X-MS-CLIENT-PRINCIPAL-NAME', 'X-Request-Id', 'Sforce-Query-Options', 'Prefer', 'x-ms-token-aad', 'X-Envoy-Original-Path', 'X',
  ':method', ':path', ':authority', ':scheme', "!#$%&'*+-.^_`|~09Az",
];
const BAD_NAMES = ['Bad Name', '', 'x-\u00fc', 'X-A:B', 'x\u0130', 'a/b', 'x-k\u212a', 'x\r', 'x\u0000', ' x', 'x ', '(x)', 'a"b'];
const NAMES = [...GOOD_NAMES, ...BAD_NAMES];
const CONN_TOKENS = [
  'keep-alive', 'close', 'Keep-Alive', 'upgrade', 'te', 'TE', 'X-Custom', 'x_custom', 'x-other', 'X-Other', 'authorization', 'Authorization', 'content-type',
  'Content_Length', 'HOST', 'content-encoding', 'x-device-posture-assertion', 'X-Posture-JWS', 'x-gateway-posture', 'X_Odd_Posture', 'transfer-encoding', 'cookie', 'accept',
  'x-gateway-subject', 'X-Forwarded-For', '', '  ', 'a b', 'x/y', '\u00a0x-custom\u00a0', '\tx-third ', 'x_third', 'proxy-connection', 'http2-settings', 'Accept-Encoding',
];
const LONG = 'eyJhbGciOiJSUzI1NiJ9.' + 'a'.repeat(300) + '.' + 'b'.repeat(80);
const GOOD_VALUES = [
  '', 'v', ' v ', '\tv\t', '  ', '\t', ' \t ', 'a, b', 'tab\there', 'caf\u00c3\u00a9', '\u00ff', '\u00a0v\u00a0', 'Bearer abc', `Bearer ${LONG}`, LONG,
  'gzip, deflate', 'keep-alive', '5', 'chunked', 'a=1', 'b=2', 'application/json', ' a=1; b=2 ', 'v ', ' v', '\u0085', '\u00a0',
];
const BAD_VALUES = ['a\r\nX-Gateway-Subject: m', 'a\u0000', 'x\u007f', 'x\u0008', 'x\u001f', '\u0100', '\ud800', 'a\nb', '\u2028'];

function genHeaders(r: Rng): string[] {
  const out: string[] = [];
  const bad = pick(r, [0, 0, 0, 0.02, 0.1]);
  const n = int(r, 0, 10);
  for (let i = 0; i < n; i++) {
    let name: string;
    const k = r();
    if (k < bad) name = pick(r, BAD_NAMES);
    else if (k < 0.9) name = pick(r, GOOD_NAMES);
    else {
      // a random token name, sometimes with a character that makes it invalid
      const alphabet = "abcXYZ-_!#$%&'*+.^`|~09";
      name = '';
      for (let j = int(r, 1, 10); j > 0; j--) name += pick(r, [...alphabet]);
      if (r() < bad * 3) name += pick(r, [' ', ':', '\u00e9', '(', '"']);
    }
    let value: string;
    if (/^connection$/i.test(name) || r() < 0.1) {
      const parts: string[] = [];
      for (let j = int(r, 0, 4); j > 0; j--) parts.push(pick(r, CONN_TOKENS));
      value = parts.join(pick(r, [',', ', ', ' ,', ',,']));
      if (r() < 0.1) value = ` ${value}\t`;
    } else value = r() < bad ? pick(r, BAD_VALUES) : pick(r, GOOD_VALUES);
    out.push(name, value);
  }
  if (out.length > 0 && r() < 0.3) {
    // A Connection header naming headers of this very list, in another spelling.
    const named: string[] = [];
    for (let j = int(r, 1, 3); j > 0; j--) {
      const name = out[2 * int(r, 0, out.length / 2 - 1)] as string;
      const k = r();
      named.push(k < 0.3 ? name.toUpperCase() : k < 0.6 ? name.toLowerCase().replaceAll('-', '_') : name);
    }
    const at = 2 * int(r, 0, out.length / 2);
    out.splice(at, 0, pick(r, ['Connection', 'connection']), named.join(', '));
  }
  if (r() < 0.02) out.push(pick(r, NAMES));
  return out;
}

// ---------------------------------------------------------------- tests

function checkTargets(t: Test, what: string, targets: readonly string[]): void {
  const bad: Mismatch[] = [];
  for (const target of targets) {
    const got = canonicalTarget(target);
    const want = refCanonicalTarget(target);
    if (differ(got, want)) bad.push({ input: target, got, want });
  }
  report(t, `canonicalTarget ${what}`, targets.length, bad);
}

t.test('existing test inputs: canonicalTarget, canonicalize and matchRoute agree with the reference', async (t) => {
  checkTargets(t, 'existing', existingTargets);
  const bad: Mismatch[] = [];
  let n = 0;
  for (const target of existingTargets) {
    for (const routes of routeSets) {
      for (const h of [existingHeaderLists[0] as string[], ['Connection', 'authorization'], []]) {
        n++;
        const got = canonicalize('GET', target, h, routes, P);
        const want = refCanonicalize('GET', target, h, routes, P);
        if (differ(got, want)) bad.push({ input: [target, h, routes], got, want });
      }
    }
  }
  report(t, 'canonicalize existing', n, bad);

  const mbad: Mismatch[] = [];
  let mn = 0;
  const paths = ['/a/b/c', '/a/bc', '/a', '/A', '/', '/x', '/sf', '/sf/', '/sf/data', '/sf/data/x', '/sf/datax', '/hubspot', '/hubspot/crm/v3/objects', '//', '//x', '/s\u00e9/x', '/sf/a%20b/c'];
  for (const path of [...paths, ...existingTargets]) {
    for (const routes of routeSets) {
      mn++;
      compareRoute(path, routes, mbad);
    }
  }
  report(t, 'matchRoute existing', mn, mbad);
});

t.test('existing test inputs: canonicalHeaders and removedHeaderNames agree with the reference', async (t) => {
  const bad: Mismatch[] = [];
  let n = 0;
  for (const raw of existingHeaderLists) {
    for (const policy of policies) {
      n++;
      compareHeaders(raw, policy, bad);
    }
  }
  report(t, 'canonicalHeaders existing', n, bad);
});

t.test('generated targets (seeded): canonicalTarget and canonicalize agree with the reference', async (t) => {
  const seed = 20240611;
  const r = seededRandom(seed);
  const targets: string[] = [];
  for (let i = 0; i < 8000; i++) targets.push(genTarget(r));
  checkTargets(t, `generated (seed ${seed})`, targets);

  const outcomes = new Map<string, number>();
  const bad: Mismatch[] = [];
  for (const target of targets) {
    const routes = pick(r, routeSets);
    const h = r() < 0.7 ? (existingHeaderLists[0] as string[]) : genHeaders(r);
    const policy = pick(r, policies);
    const method = pick(r, ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);
    const got = canonicalize(method, target, h, routes, policy);
    const want = refCanonicalize(method, target, h, routes, policy);
    if (differ(got, want)) bad.push({ input: [method, target, h, routes, policy], got, want });
    const key = 'code' in want ? want.code : 'accepted';
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  report(t, `canonicalize generated (seed ${seed})`, targets.length, bad);

  // The generator must reach every outcome, or the comparison proves little.
  t.comment(JSON.stringify([...outcomes].sort()));
  for (const code of [
    'accepted', 'GW_ERR_REQ_NON_ORIGIN_FORM', 'GW_ERR_REQ_CONTROL_CHAR', 'GW_ERR_REQ_BAD_ENCODING', 'GW_ERR_REQ_DOUBLE_ENCODING', 'GW_ERR_REQ_BACKSLASH',
    'GW_ERR_REQ_ENCODED_SEPARATOR', 'GW_ERR_REQ_PATH_PARAMETER', 'GW_ERR_REQ_DOT_SEGMENT', 'GW_ERR_REQ_EMPTY_SEGMENT', 'GW_ERR_REQ_NO_ROUTE', 'GW_ERR_REQ_HEADER_INVALID',
  ]) {
    t.ok((outcomes.get(code) ?? 0) >= 10, `generator reaches ${code} (${outcomes.get(code) ?? 0} times)`);
  }
  t.ok((outcomes.get('accepted') ?? 0) >= targets.length / 5, 'a fair share of generated targets is accepted');
});

t.test('generated paths (seeded): matchRoute agrees with the reference', async (t) => {
  const r = seededRandom(7);
  const bad: Mismatch[] = [];
  const parts = ['sf', 'data', 'hubspot', 'crm', 'v3', 'a', 'b', 'A', 'sfx', 's\u00e9', 'a%20b', '', 'x'];
  let n = 0;
  for (let i = 0; i < 3000; i++) {
    let path = '';
    for (let j = int(r, 0, 5); j > 0; j--) path += `/${pick(r, parts)}`;
    if (path === '' || r() < 0.1) path += '/';
    for (const routes of routeSets) {
      n++;
      compareRoute(path, routes, bad);
    }
  }
  report(t, 'matchRoute generated', n, bad);
});

t.test('generated header lists (seeded): canonicalHeaders and removedHeaderNames agree with the reference', async (t) => {
  const seed = 99;
  const r = seededRandom(seed);
  const bad: Mismatch[] = [];
  const outcomes = new Map<string, number>();
  const n = 6000;
  for (let i = 0; i < n; i++) {
    const raw = genHeaders(r);
    const policy = pick(r, policies);
    const want = compareHeaders(raw, policy, bad);
    const key = 'code' in want ? `${want.code} ${want.detail?.replace(/header \S+|names \S+/, 'header …') ?? ''}` : want.removed.some((x) => x.why === 'connection-option') ? 'accepted with connection options' : 'accepted';
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  report(t, `canonicalHeaders generated (seed ${seed})`, n, bad);
  t.comment(JSON.stringify([...outcomes].sort()));
  t.ok(outcomes.size >= 8, 'the generator reaches every kind of header outcome');
});
