import t from 'tap';
import { takeQueryToken } from '../../gateway/query-token.ts';
import { request } from '../fixtures/canonical-request.ts';

t.test('the access_token pieces are removed; the rest of the query stays byte for byte', async (t) => {
  const cases: [string, string, string[]][] = [
    ['/q?access_token=abc', '', ['abc']],
    ['/q?a=1&access_token=abc', 'a=1', ['abc']],
    ['/q?access_token=abc&a=1', 'a=1', ['abc']],
    ['/q?a=%20x+y&access_token=abc&b=%2F', 'a=%20x+y&b=%2F', ['abc']],
    ['/q?&a=1&access_token=abc&', '&a=1&', ['abc']],
    ['/q?access%5Ftoken=abc&a=1', 'a=1', ['abc']],
    ['/q?access_token=a&access_token=b', '', ['a', 'b']],
    ['/q?access_token', '', ['']],
    ['/q?xaccess_token=1&access_tokens=2', 'xaccess_token=1&access_tokens=2', []],
  ];
  for (const [target, rawQuery, tokens] of cases) {
    const before = request('GET', target);
    const got = takeQueryToken(before);
    t.strictSame(got.tokens, tokens, `${target}: tokens`);
    t.equal(got.req.rawQuery, rawQuery, `${target}: rawQuery`);
    t.equal(got.req.query.has('access_token'), false, `${target}: query`);
    t.equal(got.req.query.toString(), new URLSearchParams(rawQuery).toString(), `${target}: query matches rawQuery`);
    if (tokens.length === 0) t.equal(got.req, before, 'unchanged object when there is no token');
  }
});
