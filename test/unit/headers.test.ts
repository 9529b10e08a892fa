import t from 'tap';
import { isRefusal } from '../../gateway/errors.ts';
import {
  DEFAULT_HEADER_POLICY,
  HEADER_REFUSAL_CODE,
  HOP_BY_HOP,
  canonicalHeaders,
  removedHeaderNames,
} from '../../gateway/headers.ts';
import type { CanonicalHeaders, HeaderPolicy } from '../../gateway/headers.ts';

const P = DEFAULT_HEADER_POLICY;

function ok(t: { fail(msg: string): unknown }, raw: string[], policy: HeaderPolicy = P): CanonicalHeaders {
  const r = canonicalHeaders(raw, policy);
  if (isRefusal(r)) {
    t.fail(`refused: ${r.code} ${r.detail ?? ''}`);
    return { headers: new Map(), removed: [] };
  }
  return r;
}
function code(raw: string[], policy: HeaderPolicy = P): string {
  const r = canonicalHeaders(raw, policy);
  return isRefusal(r) ? r.code : 'accepted';
}

t.test('the header refusal code is pinned until the registry has a header code', async (t) => {
  t.equal(HEADER_REFUSAL_CODE, 'GW_ERR_REQ_HEADER_INVALID');
});

t.test('names are lower-cased; authorization and ordinary headers are kept', async (t) => {
  const r = ok(t, ['Host', 'gw', 'AUTHORIZATION', 'Bearer abc', 'Accept', 'application/json', 'X-Request-Id', ' r1 ']);
  t.same([...r.headers], [
    ['host', 'gw'],
    ['authorization', 'Bearer abc'],
    ['accept', 'application/json'],
    ['x-request-id', 'r1'],
  ]);
  t.same(r.removed, []);
});

// name → stripped by the default policy?
const stripTable: [string, boolean][] = [
  ['X-Gateway-Subject', true],
  ['x-gateway-tenant', true],
  ['X-GATEWAY-DECISION-ID', true],
  ['X-Forwarded-User', true],
  ['x-forwarded-email', true],
  ['X-Forwarded-Groups', true],
  ['X-Forwarded-Preferred-Username', true],
  ['X-Forwarded-For', true],
  ['X-Forwarded-Access-Token', true],
  ['X-Auth-Request-User', true],
  ['X-Remote-User', true],
  ['Remote-User', true],
  ['Remote-Groups', true],
  ['X-User', true],
  ['X-User-Id', true],
  ['X-Tenant', true],
  ['X-Tenant-Id', true],
  ['X-Device-Managed', true],
  ['X-Device-Compliant', true],
  ['X-Client-Cert', true],
  ['X-Client-Cert-Chain', true],
  ['X-SSL-Client-Verify', true],
  ['X-JWT-Assertion', true],
  ['X-Principal', true],
  ['X-Principal-Id', true],
  ['X-Roles', true],
  ['X-Scopes', true],
  ['X-Userinfo', true],
  ['X-Id-Token', true],
  ['X-Access-Token', true],
  ['Forwarded', true],
  ['X-Real-IP', true],
  ['X-Original-URL', true],
  ['X-Rewrite-URL', true],
  ['X-HTTP-Method-Override', true],
  ['MSCRMCallerID', true],
  ['CallerObjectId', true],
  ['X-Amzn-Oidc-Data', true],
  ['X-MS-CLIENT-PRINCIPAL-NAME', true],
  ['X-Goog-Authenticated-User-Email', true],
  ['Cf-Access-Jwt-Assertion', true],
  ['X-Pomerium-Jwt-Assertion', true],
  ['Impersonate-User', true],
  ['X-Middleware-Subrequest', true],
  ['X-Envoy-Original-Path', true],
  // kept
  ['X-Device-Posture-Assertion', false],
  ['x-device-posture-assertion', false],
  ['Authorization', false],
  ['Content-Type', false],
  ['X-Request-Id', false],
  ['X-Userx', false],
  ['Sforce-Query-Options', false],
  ['Prefer', false],
];

t.test('default strip list, case-insensitive', async (t) => {
  for (const [name, stripped] of stripTable) {
    const r = ok(t, [name, 'v']);
    t.equal(r.headers.size, stripped ? 0 : 1, `${name} ${stripped ? 'stripped' : 'kept'}`);
    t.same(r.removed, stripped ? [{ name: name.toLowerCase(), why: 'policy' }] : [], `${name} removed list`);
  }
});

t.test('underscores: dropped by default, compared as - when allowed', async (t) => {
  let r = ok(t, ['X_Gateway_Subject', 'mallory', 'X_Custom', '1', 'X-Custom', '2']);
  t.same([...r.headers], [['x-custom', '2']]);
  t.same(r.removed, [
    { name: 'x_custom', why: 'underscore' },
    { name: 'x_gateway_subject', why: 'underscore' },
  ]);
  const lax: HeaderPolicy = { ...P, dropUnderscoreNames: false };
  r = ok(t, ['X_Gateway_Subject', 'mallory', 'x_forwarded_user', 'm', 'X_Custom', '1', 'X_DEVICE_POSTURE_ASSERTION', 'jws'], lax);
  t.same([...r.headers], [['x_custom', '1'], ['x_device_posture_assertion', 'jws']]);
  t.same(r.removed, [
    { name: 'x_forwarded_user', why: 'policy' },
    { name: 'x_gateway_subject', why: 'policy' },
  ]);
});

t.test('repeated headers are joined; cookie with ; ', async (t) => {
  const r = ok(t, ['Accept', 'a', 'accept', 'b', 'ACCEPT', 'c', 'Cookie', 'a=1', 'cookie', 'b=2', 'X-Tag', '', 'x-tag', 'z']);
  t.same([...r.headers], [['accept', 'a, b, c'], ['cookie', 'a=1; b=2'], ['x-tag', ', z']]);
});

t.test('second copies of singleton headers are refused', async (t) => {
  t.equal(code(['Authorization', 'Bearer a', 'authorization', 'Bearer b']), HEADER_REFUSAL_CODE);
  t.equal(code(['Host', 'a', 'HOST', 'b']), HEADER_REFUSAL_CODE);
  t.equal(code(['Content-Length', '1', 'content-length', '1']), HEADER_REFUSAL_CODE);
  t.equal(code(['Content-Type', 'application/json', 'Content-Type', 'text/plain']), HEADER_REFUSAL_CODE);
  t.equal(code(['X-Device-Posture-Assertion', 'a', 'x-device-posture-assertion', 'b']), HEADER_REFUSAL_CODE);
});

t.test('hop-by-hop headers are removed', async (t) => {
  const raw: string[] = [];
  for (const h of HOP_BY_HOP) raw.push(h.toUpperCase(), 'x');
  const r = ok(t, [...raw, 'Accept', 'a']);
  t.same([...r.headers], [['accept', 'a']]);
  t.same(r.removed.map((x) => x.why), HOP_BY_HOP.map(() => 'hop-by-hop'));
  t.same(r.removed.map((x) => x.name), [...HOP_BY_HOP].sort());
});

t.test('headers named in Connection are removed, wherever Connection comes', async (t) => {
  const r = ok(t, ['X-Custom', '1', 'Connection', 'keep-alive, X-Custom,  x-other ,, close', 'X-Other', '2', 'x-third', '3', 'Connection', 'X_Third']);
  t.same([...r.headers], []);
  t.same(r.removed, [
    { name: 'connection', why: 'hop-by-hop' },
    { name: 'x-custom', why: 'connection-option' },
    { name: 'x-other', why: 'connection-option' },
    { name: 'x-third', why: 'connection-option' },
  ]);
});

t.test('Connection naming a header the gateway needs is refused', async (t) => {
  for (const name of ['authorization', 'Authorization', 'content-type', 'Content_Length', 'HOST', 'content-encoding', 'x-device-posture-assertion']) {
    t.equal(code(['Authorization', 'Bearer a', 'Connection', `keep-alive, ${name}`]), HEADER_REFUSAL_CODE, name);
  }
  const custom: HeaderPolicy = { ...P, postureHeader: 'x-posture-jws' };
  t.equal(code(['Connection', 'X-Posture-JWS'], custom), HEADER_REFUSAL_CODE);
});

t.test('Content-Length with Transfer-Encoding is refused', async (t) => {
  t.equal(code(['Content-Length', '5', 'Transfer-Encoding', 'chunked']), HEADER_REFUSAL_CODE);
  const r = ok(t, ['Transfer-Encoding', 'chunked', 'Content-Type', 'application/json']);
  t.same([...r.headers], [['content-type', 'application/json']]);
});

t.test('the posture assertion header is kept despite the x-device- prefix; a custom one too', async (t) => {
  let r = ok(t, ['X-Device-Posture-Assertion', 'eyJ.a.b', 'X-Device-Id', 'd1', 'X-Device-Posture', 'managed']);
  t.same([...r.headers], [['x-device-posture-assertion', 'eyJ.a.b']]);
  const custom: HeaderPolicy = { ...P, postureHeader: 'x-gateway-posture' };
  r = ok(t, ['X-Gateway-Posture', 'eyJ.a.b', 'X-Gateway-Subject', 'm', 'X-Device-Posture-Assertion', 'x'], custom);
  t.same([...r.headers], [['x-gateway-posture', 'eyJ.a.b']]);
});

t.test('keep exempts names from the strip lists but not from hop-by-hop removal', async (t) => {
  const policy: HeaderPolicy = { ...P, keep: ['X-Forwarded-Proto', 'te'] };
  const r = ok(t, ['X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'h', 'TE', 'trailers'], policy);
  t.same([...r.headers], [['x-forwarded-proto', 'https']]);
});

t.test('extra strip names and prefixes', async (t) => {
  const policy: HeaderPolicy = { ...P, strip: [...P.strip, 'X-Legacy-User'], stripPrefixes: [...P.stripPrefixes, 'x_acme_'] };
  const r = ok(t, ['x-legacy-user', 'u', 'X-Acme-Role', 'admin', 'X-Acme', 'kept'], policy);
  t.same([...r.headers], [['x-acme', 'kept']]);
});

t.test('malformed input is refused', async (t) => {
  t.equal(code(['Bad Name', 'v']), HEADER_REFUSAL_CODE);
  t.equal(code(['X-A', 'a\r\nX-Gateway-Subject: m']), HEADER_REFUSAL_CODE);
  t.equal(code(['X-A', 'a\u0000']), HEADER_REFUSAL_CODE);
  t.equal(code(['X-A']), 'GW_ERR_INTERNAL_ERROR');
  const r = ok(t, ['X-A', 'tab\there', 'X-B', 'caf\u00c3\u00a9']);
  t.same([...r.headers], [['x-a', 'tab\there'], ['x-b', 'caf\u00c3\u00a9']]);
});

t.test('HTTP/2 pseudo-headers are ignored', async (t) => {
  const r = ok(t, [':method', 'GET', ':path', '/sf', ':authority', 'gw', 'accept', 'a']);
  t.same([...r.headers], [['accept', 'a']]);
  t.same(r.removed, []);
});

t.test('removedHeaderNames lists the stripped client headers for the log', async (t) => {
  t.same(removedHeaderNames(['X-Gateway-Subject', 'm', 'Connection', 'x-a', 'X-A', '1', 'Accept', 'a'], P), ['connection', 'x-a', 'x-gateway-subject']);
  t.same(removedHeaderNames(['Authorization', 'a', 'Authorization', 'b'], P), []);
});

t.test('the default policy is frozen', async (t) => {
  t.ok(Object.isFrozen(P));
  t.ok(Object.isFrozen(P.strip));
  t.ok(Object.isFrozen(P.stripPrefixes));
  t.equal(P.postureHeader, 'x-device-posture-assertion');
});
