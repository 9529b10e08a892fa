import t from 'tap';
import { bearerToken, checkedToken } from '../../../gateway/identity/bearer.ts';
import { isRefusal } from '../../../gateway/errors.ts';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln-_';
const MAX = 8192;
const codeOf = (h: string | undefined, max = MAX): string => {
  const r = bearerToken(h, max);
  return isRefusal(r) ? r.code : `token ${r}`;
};

t.test('accepted', async (t) => {
  const cases: [string, string][] = [
    [`Bearer ${JWT}`, JWT],
    [`bearer ${JWT}`, JWT], // RFC 9110 §11.1: the scheme is case-insensitive
    [`BEARER ${JWT}`, JWT],
    [`Bearer   ${JWT}`, JWT], // 1*SP
    ['Bearer abc==', 'abc=='],
    ['Bearer a+b/c~d', 'a+b/c~d'],
    ['Bearer x.y.', 'x.y.'], // an unsecured JWT's shape is the verifier's business
  ];
  for (const [h, want] of cases) t.equal(bearerToken(h, MAX), want, h);
});

t.test('missing', async (t) => {
  t.strictSame(bearerToken(undefined, MAX), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MISSING' });
  t.strictSame(bearerToken('', MAX), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MISSING' });
});

t.test('malformed', async (t) => {
  const one = { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail: 'Authorization must be "Bearer <token>" (one token)' };
  const cases: [string, string][] = [
    ['two tokens joined by Node', 'Bearer a, Bearer b'],
    ['two tokens without space', 'Bearer a,Bearer b'],
    ['Basic', 'Basic dXNlcjpwYXNz'],
    ['scheme only', 'Bearer'],
    ['scheme and space', 'Bearer '],
    ['no space', `Bearer${JWT}`],
    ['tab separator', `Bearer\t${JWT}`],
    ['trailing space', `Bearer ${JWT} `],
    ['two words', 'Bearer a b'],
    ['leading space', ` Bearer ${JWT}`],
    ['token type as prefix', `Bearerx ${JWT}`],
    ['DPoP scheme', `DPoP ${JWT}`],
  ];
  for (const [name, h] of cases) t.strictSame(bearerToken(h, MAX), one, name);
});

t.test('over-long: exactly max accepted, max + 1 refused', async (t) => {
  t.equal(codeOf(`Bearer ${'a'.repeat(100)}`, 100), `token ${'a'.repeat(100)}`);
  t.strictSame(bearerToken(`Bearer ${'a'.repeat(101)}`, 100), { refusal: true, code: 'GW_ERR_REQ_TOKEN_TOO_LARGE', detail: 'token longer than 100 bytes' });
  t.equal(codeOf(`Bearer ${'a'.repeat(MAX + 1)}`), 'GW_ERR_REQ_TOKEN_TOO_LARGE', '431, not 401');
  t.equal(checkedToken('a'.repeat(MAX + 1), MAX).constructor, Object, 'query tokens get the same limit');
  t.equal((checkedToken('a'.repeat(MAX + 1), MAX) as { code: string }).code, 'GW_ERR_REQ_TOKEN_TOO_LARGE');
  t.equal(checkedToken('abc', MAX), 'abc');
  t.equal((checkedToken('', MAX) as { code: string }).code, 'GW_ERR_AUTH_TOKEN_MISSING');
});

t.test('characters outside b64token', async (t) => {
  const detail = 'token has characters outside RFC 6750 b64token';
  for (const tok of ['a,b', 'a;b', 'a"b', 'a\\b', 'a=b', '=abc', 'a%2Eb', 'a*b', 'a:b', 'ab\u00e9', 'a\u0000b', 'a(b)', 'a@b', 'a!b']) {
    t.strictSame(bearerToken(`Bearer ${tok}`, MAX), { refusal: true, code: 'GW_ERR_AUTH_TOKEN_MALFORMED', detail }, JSON.stringify(tok));
  }
});
