import t from 'tap';
import { safeParseJson } from '../../../gateway/json/safe-parse.ts';
import { sameDecimal } from '../../../gateway/json/exact-numbers.ts';
import { seededRandom as rng } from '../../fixtures/seeded-random.ts';

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
    for (const limits of [{ ...L, fastPath: false }, { ...L, fastPath: true }]) {
      const r = safeParseJson(input, limits);
      const label = `${name}${limits.fastPath ? ' (fast path)' : ''}`;
      t.equal(r.ok, false, label);
      if (!r.ok) t.match(r.why, why, `${label}: reason`);
    }
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

// ---- the fast path (text without backslashes) answers as the full scan does ------------------

import { parseByScan } from '../../../gateway/json/safe-parse.ts';


// Pieces chosen to hit every branch: colons inside keys and values, keys that repeat, numbers
// long and short, with exponents, inside arrays and at the top, prototype keys, whitespace.
const KEYS = ['a', 'b', 'Id', 'url', 'k:v', 'time', '__proto__', 'constructor', 'prototype', 'x y', '10:30', 'é'];
const STRS = ['', 'plain', 'http://h:8080/p', '10:30:00', 'a:b:c', '😀', 'no colon', '::'];
const NUMS = ['0', '-1', '12.5', '1e3', '-2.5E-3', '1234567890123456', '12345678901234567890', '0.1000000000000000055511151231257827', '123456789012345', '1.0', '-0'];

function genText(r: () => number, depth: number): string {
  const ws = () => (r() < 0.1 ? [' ', '\n', '\t', '\r\n  '][Math.floor(r() * 4)]! : '');
  const p = r();
  if (depth > 5 || p < 0.4) {
    const q = r();
    if (q < 0.35) return `"${STRS[Math.floor(r() * STRS.length)]}"`;
    if (q < 0.75) return NUMS[Math.floor(r() * NUMS.length)]!;
    return ['true', 'false', 'null'][Math.floor(r() * 3)]!;
  }
  if (p < 0.6) {
    const n = Math.floor(r() * 4);
    return `[${ws()}${Array.from({ length: n }, () => genText(r, depth + 1)).join(`,${ws()}`)}${ws()}]`;
  }
  const n = Math.floor(r() * 5);
  const members: string[] = [];
  for (let i = 0; i < n; i++) members.push(`"${KEYS[Math.floor(r() * KEYS.length)]}"${ws()}:${ws()}${genText(r, depth + 1)}`);
  return `{${ws()}${members.join(`,${ws()}`)}${ws()}}`;
}

t.test('without backslashes, the fast path gives the full scan\'s answer', async (t) => {
  let fastOk = 0;
  let refused = 0;
  for (let seed = 1; seed <= 4000; seed++) {
    const text = genText(rng(seed), 0);
    const want = parseByScan(text, 4);
    const got = safeParseJson(text, { maxDepth: 4, fastPath: true });
    if (got.ok !== want.ok || (got.ok && want.ok && JSON.stringify(got.value) !== JSON.stringify(want.value)) || (!got.ok && !want.ok && got.why !== want.why)) {
      t.fail(`seed ${seed}: ${text} → ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      return;
    }
    if (got.ok) fastOk++;
    else refused++;
  }
  // both kinds of answers were exercised
  t.ok(fastOk > 500, `${fastOk} parsed`);
  t.ok(refused > 500, `${refused} refused`);
});

t.test('fast path: each check that sends a body to the full path', async (t) => {
  const L = { maxDepth: 8, fastPath: true };
  t.match(safeParseJson('{"a":"x:y","a":"z"}', L), { ok: false, why: 'duplicate key "a"' }, 'duplicate hidden behind colons in values');
  t.match(safeParseJson('{"a":{"b":1},"c":{"b":2,"b":{"d":"::"}}}', L), { ok: false, why: 'duplicate key "b"' }, 'nested duplicate');
  const big = safeParseJson('{"n": 12345678901234567890}', L);
  t.equal(big.ok && JSON.stringify(big.value), '{"n":12345678901234567890}', 'a long member number keeps its digits');
  const inArray = safeParseJson('{"n":[1,12345678901234567890]}', L);
  t.equal(inArray.ok && JSON.stringify(inArray.value), '{"n":[1,12345678901234567890]}', 'a long number in an array keeps its digits');
  const top = safeParseJson('12345678901234567890', L);
  t.equal(top.ok && JSON.stringify(top.value), '12345678901234567890', 'a long number alone keeps its digits');
  const exp = safeParseJson('{"n":1.5e400}', L);
  t.equal(exp.ok && JSON.stringify(exp.value), '{"n":1.5e400}', 'an exponent beyond a double is kept');
  t.match(safeParseJson('{"__proto__":{"x":1}}', L), { ok: false, why: /forbidden prototype property/ });
});

t.test('an enumerable property on Object.prototype cannot hide a duplicate key from the fast path', async (t) => {
  const body = Buffer.from('{"Tenant__c":"evil","Tenant__c":"acme"}');
  Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true });
  try {
    const r = safeParseJson(body, { maxDepth: 8, fastPath: true });
    t.equal(r.ok, false);
    t.match(r.ok ? '' : r.why, /duplicate key/);
  } finally {
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  }
  t.equal(safeParseJson(body, { maxDepth: 8, fastPath: true }).ok, false, 'and without it');
});
