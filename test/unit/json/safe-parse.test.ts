import t from 'tap';
import { safeParseJson } from '../../../gateway/json/safe-parse.ts';
import { sameDecimal } from '../../../gateway/json/exact-numbers.ts';

const L = { maxDepth: 8 };

t.test('refuses what two parsers could read differently', async (t) => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['duplicate key', '{"a":1,"a":2}', /duplicate key "a"/],
    ['duplicate key by unicode escape', '{"a":1,"\\u0061":2}', /duplicate key "a"/],
    ['duplicate key by escaped quote', '{"a\\"":1,"a\\u0022":2}', /duplicate key/],
    ['duplicate key in a nested object', '{"x":[{"k":1},{"k":1,"k":3}]}', /duplicate key "k"/],
    ['duplicate Discount in a write', '{"Discount":0.1,"Name":"q","Discount":0.9}', /duplicate key "Discount"/],
    ['__proto__ key', '{"__proto__":{"isAdmin":true}}', /forbidden prototype property/],
    ['escaped __proto__ key', '{"\\u005f_proto__":{"isAdmin":true}}', /forbidden prototype property/],
    ['nested __proto__', '{"a":{"b":{"__proto__":{}}}}', /forbidden prototype property/],
    ['constructor.prototype', '{"constructor":{"prototype":{"x":1}}}', /forbidden prototype property/],
    ['depth bomb of arrays', '['.repeat(100000) + ']'.repeat(100000), /nesting deeper than 8/],
    ['depth bomb of objects', '{"a":'.repeat(9) + '1' + '}'.repeat(9), /nesting deeper than 8/],
    ['invalid JSON', '{"a":1,}', /./],
    ['trailing garbage', '{"a":1} x', /./],
    ['unterminated string', '{"a":"x', /unterminated string/],
    ['empty body', '', /./],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), /^invalid UTF-8$/],
    ['overlong UTF-8', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), /^invalid UTF-8$/],
  ];
  for (const [name, input, why] of cases) {
    const r = safeParseJson(input, L);
    t.equal(r.ok, false, name);
    if (!r.ok) t.match(r.why, why, `${name}: reason`);
  }
});

t.test('accepts tricky but unambiguous JSON', async (t) => {
  const cases: [string, string, unknown][] = [
    ['braces and quotes inside strings', '{"a":"}{\\"a\\":1,","b":"[[[[[[[[[[","c":{"a":1}}', { a: '}{"a":1,', b: '[[[[[[[[[[', c: { a: 1 } }],
    ['same key in sibling objects', '[{"a":1},{"a":2}]', [{ a: 1 }, { a: 2 }]],
    ['same key at different levels', '{"a":{"a":{"a":1}}}', { a: { a: { a: 1 } } }],
    ['key equal to a string value', '{"a":"b","b":"a"}', { a: 'b', b: 'a' }],
    ['escaped backslash before quote', '{"a\\\\":1,"a":2}', { 'a\\': 1, a: 2 }],
    ['keys differing only in case', '{"Discount":1,"discount":2}', { Discount: 1, discount: 2 }],
    ['constructor without prototype', '{"constructor":"x"}', { constructor: 'x' }],
    ['scalar top level', '42', 42],
    ['exactly maxDepth', '[[[[[[[[1]]]]]]]]', [[[[[[[[1]]]]]]]]],
  ];
  for (const [name, input, want] of cases) {
    const r = safeParseJson(input, L);
    t.ok(r.ok, name);
    if (r.ok) t.same(r.value, want, name);
  }
  const bom = safeParseJson(Buffer.from('\ufeff{"a":1}'), L);
  t.same(bom, { ok: true, value: { a: 1 } }, 'a UTF-8 BOM is accepted, as by secure-json-parse');
});

t.test('big and long numbers keep their digits through JSON.stringify', async (t) => {
  const cases: [string, string][] = [
    ['12345678901234567890', 'integer beyond 2^64'],
    ['9007199254740993', 'MAX_SAFE_INTEGER + 2'],
    ['-9007199254740993', 'negative'],
    ['0.1000000000000000055511151231257827', 'more digits than a double holds'],
    ['1e400', 'overflows to Infinity'],
    ['1e-400', 'underflows to 0'],
    ['123456789012345678901234567890.5', 'long with a fraction'],
  ];
  for (const [src, name] of cases) {
    const r = safeParseJson(`{"n":${src},"list":[${src}]}`, L);
    t.ok(r.ok, name);
    if (r.ok) t.equal(JSON.stringify(r.value), `{"n":${src},"list":[${src}]}`, name);
  }
});

t.test('exact numbers stay plain JS numbers', async (t) => {
  const r = safeParseJson('{"a":0.1,"b":9007199254740991,"c":1.0,"d":1e2,"e":-0,"f":1.5E-3,"g":"12345678901234567890"}', L);
  t.ok(r.ok);
  if (!r.ok) return;
  const v = r.value as Record<string, unknown>;
  t.same([typeof v['a'], typeof v['b'], typeof v['c'], typeof v['d'], typeof v['f']], ['number', 'number', 'number', 'number', 'number']);
  t.equal(v['a'], 0.1);
  t.equal(v['b'], 9007199254740991);
  t.equal(v['c'], 1);
  t.equal(v['d'], 100);
  t.equal(v['f'], 0.0015);
  t.equal(v['g'], '12345678901234567890', 'a string of digits is a string');
});

t.test('sameDecimal compares values, not spellings', async (t) => {
  t.ok(sameDecimal('1.0', '1'));
  t.ok(sameDecimal('1e2', '100'));
  t.ok(sameDecimal('0.00150', '0.0015'));
  t.ok(sameDecimal('-0', '0'));
  t.notOk(sameDecimal('12345678901234567890', '12345678901234567000'));
  t.notOk(sameDecimal('1e400', 'Infinity'));
  t.notOk(sameDecimal('-1', '1'));
});
