import t from 'tap';
import { canonicalize, canonicalTarget, matchRoute } from '../../gateway/canonicalize.ts';
import type { Route } from '../../gateway/canonicalize.ts';
import { isRefusal } from '../../gateway/errors.ts';
import type { ErrorCode } from '../../gateway/errors.ts';
import { DEFAULT_HEADER_POLICY } from '../../gateway/headers.ts';

const routes: Route[] = [
  { name: 'sf', prefix: '/sf' },
  { name: 'sf-data', prefix: '/sf/data' },
  { name: 'hubspot', prefix: '/hubspot' },
];
const H = ['Host', 'gw.example', 'Authorization', 'Bearer abc'];

type Ok = { upstream: string; path: string; segments: string[]; rawQuery: string };
const accepted: [string, Ok][] = [
  ['/sf', { upstream: 'sf', path: '/', segments: [], rawQuery: '' }],
  ['/sf?', { upstream: 'sf', path: '/', segments: [], rawQuery: '' }],
  ['/sf?q=1', { upstream: 'sf', path: '/', segments: [], rawQuery: 'q=1' }],
  ['/sf/services/data/v59.0/sobjects/Contact/003xx', { upstream: 'sf', path: '/services/data/v59.0/sobjects/Contact/003xx', segments: ['services', 'data', 'v59.0', 'sobjects', 'Contact', '003xx'], rawQuery: '' }],
  ['/sf/data', { upstream: 'sf-data', path: '/', segments: [], rawQuery: '' }],
  ['/sf/data/x', { upstream: 'sf-data', path: '/x', segments: ['x'], rawQuery: '' }],
  ['/sf/datax', { upstream: 'sf', path: '/datax', segments: ['datax'], rawQuery: '' }],
  ['/sf/query?q=SELECT+Id+FROM+Account', { upstream: 'sf', path: '/query', segments: ['query'], rawQuery: 'q=SELECT+Id+FROM+Account' }],
  ['/sf/a%20b', { upstream: 'sf', path: '/a%20b', segments: ['a b'], rawQuery: '' }],
  ['/sf/caf%C3%A9', { upstream: 'sf', path: '/caf%C3%A9', segments: ['café'], rawQuery: '' }],
  ['/sf/caf%c3%a9', { upstream: 'sf', path: '/caf%c3%a9', segments: ['café'], rawQuery: '' }],
  ['/sf/Stra%C3%9Fe', { upstream: 'sf', path: '/Stra%C3%9Fe', segments: ['Straße'], rawQuery: '' }],
  ['/sf/a%3Ab', { upstream: 'sf', path: '/a%3Ab', segments: ['a:b'], rawQuery: '' }],
  ['/sf/a:b@c!$&\'()*+,=-._~', { upstream: 'sf', path: '/a:b@c!$&\'()*+,=-._~', segments: ['a:b@c!$&\'()*+,=-._~'], rawQuery: '' }],
  ["/sf/accounts(name='x%20y')", { upstream: 'sf', path: "/accounts(name='x%20y')", segments: ["accounts(name='x y')"], rawQuery: '' }],
  ['/sf/a%25b', { upstream: 'sf', path: '/a%25b', segments: ['a%b'], rawQuery: '' }],
  ['/sf/x?a=%2F&b=%5C', { upstream: 'sf', path: '/x', segments: ['x'], rawQuery: 'a=%2F&b=%5C' }],
  ['/sf/x?a=100%25', { upstream: 'sf', path: '/x', segments: ['x'], rawQuery: 'a=100%25' }],
  ['/sf/x?a=b?c/d:e@f', { upstream: 'sf', path: '/x', segments: ['x'], rawQuery: 'a=b?c/d:e@f' }],
  ['/sf/x?$filter=name%20eq%20%27a%27&$top=5', { upstream: 'sf', path: '/x', segments: ['x'], rawQuery: '$filter=name%20eq%20%27a%27&$top=5' }],
  ['/hubspot/crm/v3/objects/contacts?properties=email&properties=firstname', { upstream: 'hubspot', path: '/crm/v3/objects/contacts', segments: ['crm', 'v3', 'objects', 'contacts'], rawQuery: 'properties=email&properties=firstname' }],
];

const refused: [string, ErrorCode][] = [
  // not origin form
  ['http://evil.example/sf/x', 'GW_ERR_REQ_NON_ORIGIN_FORM'],
  ['evil.example:443', 'GW_ERR_REQ_NON_ORIGIN_FORM'],
  ['*', 'GW_ERR_REQ_NON_ORIGIN_FORM'],
  ['', 'GW_ERR_REQ_NON_ORIGIN_FORM'],
  ['sf/x', 'GW_ERR_REQ_NON_ORIGIN_FORM'],
  // encoded separators
  ['/sf/a%2Fb', 'GW_ERR_REQ_ENCODED_SEPARATOR'],
  ['/sf/a%2fb', 'GW_ERR_REQ_ENCODED_SEPARATOR'],
  ['/sf/a%5Cb', 'GW_ERR_REQ_ENCODED_SEPARATOR'],
  ['/sf/a%5cb', 'GW_ERR_REQ_ENCODED_SEPARATOR'],
  ['/sf/x%2F..%2Fadmin', 'GW_ERR_REQ_ENCODED_SEPARATOR'],
  // backslash
  ['/sf/a\\b', 'GW_ERR_REQ_BACKSLASH'],
  ['/sf\\..\\admin', 'GW_ERR_REQ_BACKSLASH'],
  // dot segments, raw and encoded
  ['/sf/..', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/sf/./x', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/sf/x/../admin', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/sf/%2e%2e/x', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/sf/%2E%2e/x', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/sf/.%2e/x', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/sf/%2e/x', 'GW_ERR_REQ_DOT_SEGMENT'],
  ['/nope/../sf', 'GW_ERR_REQ_DOT_SEGMENT'],
  // path parameters
  ['/sf/a;b', 'GW_ERR_REQ_PATH_PARAMETER'],
  ['/sf/..;/admin', 'GW_ERR_REQ_PATH_PARAMETER'],
  ['/sf/x;jsessionid=1', 'GW_ERR_REQ_PATH_PARAMETER'],
  ['/sf/a%3Bb', 'GW_ERR_REQ_PATH_PARAMETER'],
  ['/sf/a%3bb', 'GW_ERR_REQ_PATH_PARAMETER'],
  // control characters, raw and encoded, path and query
  ['/sf/a\u0000b', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a\r\nX-Injected: 1', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a\tb', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a%00', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a%0d%0a', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a%0A', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a%7f', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/x?a=%00', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/x?a=\u007f', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/a%C2%85', 'GW_ERR_REQ_CONTROL_CHAR'], // NEL
  ['/sf/a%E2%80%A8', 'GW_ERR_REQ_CONTROL_CHAR'], // LINE SEPARATOR
  ['/sf/x?a=%C2%85', 'GW_ERR_REQ_CONTROL_CHAR'],
  ['/sf/%zz/%00', 'GW_ERR_REQ_CONTROL_CHAR'], // control wins over malformed
  // double encoding
  ['/sf/%252F', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  ['/sf/%255c', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  ['/sf/%252e%252e/x', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  ['/sf/%25%32%46', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  ['/sf/%25u002f', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  ['/sf/x?a=%2541', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  ['/sf/x?a=%250a', 'GW_ERR_REQ_DOUBLE_ENCODING'],
  // malformed escapes
  ['/sf/%zz', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a%2', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a%', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/%u002f', 'GW_ERR_REQ_BAD_ENCODING'], // IIS %u form
  ['/sf/x?a=%g1', 'GW_ERR_REQ_BAD_ENCODING'],
  // invalid UTF-8: overlong, surrogate, stray bytes
  ['/sf/%c0%af', 'GW_ERR_REQ_BAD_ENCODING'], // overlong /
  ['/sf/%c0%ae%c0%ae/x', 'GW_ERR_REQ_BAD_ENCODING'], // overlong ..
  ['/sf/%e0%80%af', 'GW_ERR_REQ_BAD_ENCODING'], // 3-byte overlong /
  ['/sf/%ed%a0%80', 'GW_ERR_REQ_BAD_ENCODING'], // UTF-16 surrogate
  ['/sf/%ff', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/%C3', 'GW_ERR_REQ_BAD_ENCODING'], // truncated
  ['/sf/x?a=%ff', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a=%C3&b=%A9', 'GW_ERR_REQ_BAD_ENCODING'], // split across parameters
  // empty segments
  ['/sf//x', 'GW_ERR_REQ_EMPTY_SEGMENT'],
  ['//sf/x', 'GW_ERR_REQ_EMPTY_SEGMENT'],
  ['/sf/x/', 'GW_ERR_REQ_EMPTY_SEGMENT'],
  ['/sf/', 'GW_ERR_REQ_EMPTY_SEGMENT'],
  ['//evil.example/sf', 'GW_ERR_REQ_EMPTY_SEGMENT'],
  // characters not allowed raw
  ['/sf/a b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a#b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a=1#frag', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/caf\u00c3\u00a9', 'GW_ERR_REQ_BAD_ENCODING'], // raw UTF-8 bytes as Node's latin1 string
  ['/sf/caf\u00e9', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a"b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a<b>', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a|b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a{b}', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a^b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a`b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a[0]', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a=1;a=2', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a b', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a[]=1', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a=\\', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/x?a=\u00e9', 'GW_ERR_REQ_BAD_ENCODING'],
  // unreserved characters have one spelling
  ['/sf/%43ontact', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/v59%2E0', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a%7Eb', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/s%66/x', 'GW_ERR_REQ_BAD_ENCODING'],
  // encoded ? and #
  ['/sf/a%3Fb', 'GW_ERR_REQ_BAD_ENCODING'],
  ['/sf/a%23b', 'GW_ERR_REQ_BAD_ENCODING'],
  // Unicode look-alikes (NFKC) and invisible characters
  ['/sf/a%EF%BC%8Fb', 'GW_ERR_REQ_ENCODED_SEPARATOR'], // U+FF0F fullwidth solidus
  ['/sf/a%EF%BC%BCb', 'GW_ERR_REQ_ENCODED_SEPARATOR'], // U+FF3C fullwidth reverse solidus
  ['/sf/%EF%BC%8E%EF%BC%8E/x', 'GW_ERR_REQ_DOT_SEGMENT'], // fullwidth ..
  ['/sf/%E2%80%A5/x', 'GW_ERR_REQ_DOT_SEGMENT'], // U+2025 two dot leader
  ['/sf/a%EF%BC%9Bb', 'GW_ERR_REQ_PATH_PARAMETER'], // fullwidth ;
  ['/sf/%EF%BC%852f', 'GW_ERR_REQ_DOUBLE_ENCODING'], // fullwidth %
  ['/sf/%EF%BD%83ontact', 'GW_ERR_REQ_BAD_ENCODING'], // fullwidth c
  ['/sf/%EF%AC%81le', 'GW_ERR_REQ_BAD_ENCODING'], // ligature fi
  ['/sf/e%CC%81', 'GW_ERR_REQ_BAD_ENCODING'], // decomposed é
  ['/sf/a%C2%A0b', 'GW_ERR_REQ_BAD_ENCODING'], // NBSP
  ['/sf/Con%E2%80%8Btact', 'GW_ERR_REQ_BAD_ENCODING'], // zero-width space
  ['/sf/%E2%80%AEtcatnoC', 'GW_ERR_REQ_BAD_ENCODING'], // right-to-left override
  ['/sf/%EF%BB%BFContact', 'GW_ERR_REQ_BAD_ENCODING'], // BOM
  ['/sf/%EE%80%80', 'GW_ERR_REQ_BAD_ENCODING'], // private use U+E000
  ['/sf/Opportun%C4%B1ty', 'GW_ERR_REQ_BAD_ENCODING'], // dotless ı upper-cases to I
  ['/sf/%C4%B0d', 'GW_ERR_REQ_BAD_ENCODING'], // İ lower-cases to i
  ['/sf/Contact%C5%BF', 'GW_ERR_REQ_BAD_ENCODING'], // long s
  ['/sf/%E2%84%AAey', 'GW_ERR_REQ_BAD_ENCODING'], // Kelvin sign
  // routing
  ['/sfx', 'GW_ERR_REQ_NO_ROUTE'],
  ['/SF/x', 'GW_ERR_REQ_NO_ROUTE'],
  ['/', 'GW_ERR_REQ_NO_ROUTE'],
  ['/other/sf', 'GW_ERR_REQ_NO_ROUTE'],
  // priority between codes
  ['/sf/../%2f', 'GW_ERR_REQ_ENCODED_SEPARATOR'],
  ['/sf/a;b/..', 'GW_ERR_REQ_PATH_PARAMETER'],
  ['/sf/%252f\\', 'GW_ERR_REQ_DOUBLE_ENCODING'],
];

t.test('accepted targets: upstream, path, segments and rawQuery exactly', async (t) => {
  for (const [target, want] of accepted) {
    const r = canonicalize('GET', target, H, routes, DEFAULT_HEADER_POLICY);
    if (isRefusal(r)) {
      t.fail(`${JSON.stringify(target)} refused with ${r.code}`);
      continue;
    }
    t.same({ upstream: r.upstream, path: r.path, segments: r.segments, rawQuery: r.rawQuery }, want, JSON.stringify(target));
    t.equal(r.query.toString(), new URLSearchParams(want.rawQuery).toString(), `${JSON.stringify(target)} query`);
  }
});

t.test('refused targets: exact code', async (t) => {
  t.ok(refused.length >= 40);
  for (const [target, code] of refused) {
    const r = canonicalize('GET', target, H, routes, DEFAULT_HEADER_POLICY);
    t.equal(isRefusal(r) ? r.code : `accepted as ${(r as { path: string }).path}`, code, JSON.stringify(target));
  }
});

t.test('query keeps + and escapes byte for byte; URLSearchParams decodes', async (t) => {
  const r = canonicalize('GET', '/sf/query?q=SELECT+Id+FROM+Account+WHERE+Name+%3D+%27A%26B%27', H, routes, DEFAULT_HEADER_POLICY);
  if (isRefusal(r)) return t.fail(r.code);
  t.equal(r.rawQuery, 'q=SELECT+Id+FROM+Account+WHERE+Name+%3D+%27A%26B%27');
  t.equal(r.query.get('q'), "SELECT Id FROM Account WHERE Name = 'A&B'");
  t.equal(r.method, 'GET');
});

t.test('headers go through the header policy', async (t) => {
  const raw = ['Host', 'gw.example', 'Authorization', 'Bearer abc', 'X-Gateway-Subject', 'mallory', 'X-Device-Posture-Assertion', 'eyJ.x.y', 'X-Device-Managed', 'true'];
  const r = canonicalize('POST', '/sf/x', raw, routes, DEFAULT_HEADER_POLICY);
  if (isRefusal(r)) return t.fail(r.code);
  t.same([...r.headers], [
    ['host', 'gw.example'],
    ['authorization', 'Bearer abc'],
    ['x-device-posture-assertion', 'eyJ.x.y'],
  ]);
  const dup = canonicalize('GET', '/sf/x', [...raw, 'authorization', 'Bearer other'], routes, DEFAULT_HEADER_POLICY);
  t.ok(isRefusal(dup));
});

t.test('target is checked before routing and headers', async (t) => {
  const r = canonicalize('GET', '/nope/%2F', ['Connection', 'authorization'], routes, DEFAULT_HEADER_POLICY);
  t.equal(isRefusal(r) && r.code, 'GW_ERR_REQ_ENCODED_SEPARATOR');
});

t.test('canonicalTarget on its own', async (t) => {
  t.same(canonicalTarget('/'), { path: '/', segments: [], rawQuery: '' });
  t.same(canonicalTarget('/a/b%20c?x=1'), { path: '/a/b%20c', segments: ['a', 'b c'], rawQuery: 'x=1' });
});

t.test('matchRoute: longest prefix on a segment boundary, case-sensitive, ties to the first', async (t) => {
  const rs: Route[] = [
    { name: 'root', prefix: '/' },
    { name: 'a', prefix: '/a' },
    { name: 'ab', prefix: '/a/b' },
    { name: 'ab2', prefix: '/a/b/' },
    { name: 'bad', prefix: 'a' },
  ];
  t.same(matchRoute('/a/b/c', rs), { name: 'ab', prefix: '/a/b', rest: '/c', depth: 2 });
  t.same(matchRoute('/a/bc', rs), { name: 'a', prefix: '/a', rest: '/bc', depth: 1 });
  t.same(matchRoute('/a', rs), { name: 'a', prefix: '/a', rest: '/', depth: 1 });
  t.same(matchRoute('/A', rs), { name: 'root', prefix: '/', rest: '/A', depth: 0 });
  t.same(matchRoute('/', rs), { name: 'root', prefix: '/', rest: '/', depth: 0 });
  t.equal(matchRoute('/x', []), undefined);
  const r = canonicalize('GET', '/a/b/c/d', [], rs, DEFAULT_HEADER_POLICY);
  if (isRefusal(r)) return t.fail(r.code);
  t.same([r.upstream, r.path, r.segments], ['ab', '/c/d', ['c', 'd']]);
});
