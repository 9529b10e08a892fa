import t from 'tap';
import canonicalize from 'canonicalize';
import { CanonicalText, canonicalJson, tryCanonicalJson } from '../../../audit/canonical-json.ts';
import { seededRandom as rng } from '../../fixtures/seeded-random.ts';

// RFC 8785 §3.2.3: members sorted by UTF-16 code units, whatever the script.
t.test('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', async (t) => {
  const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
  t.equal(
    canonicalJson(input),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
  // integer-like names are ordered as strings, not as JS orders them in an object
  t.equal(canonicalJson({ '10': 1, '9': 2, '1': 3, a: 4 }), '{"1":3,"10":1,"9":2,"a":4}');
});

t.test('numbers as ECMAScript writes them (RFC 8785 §3.2.2.3 examples)', async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [9007199254740992, '9007199254740992'],
    [-9007199254740992, '-9007199254740992'],
    [295147905179352830000, '295147905179352830000'],
    [1e21, '1e+21'],
    [333333333.33333329, '333333333.3333333'],
    [0.000001, '0.000001'],
    [1e-7, '1e-7'],
  ];
  for (const [n, s] of cases) t.equal(canonicalJson(n), s, s);
  t.equal(canonicalJson({ n: [1, 2.5, -3e-10] }), '{"n":[1,2.5,-3e-10]}');
});

t.test('long member names are serialized, not cached', async (t) => {
  const long = 'k'.repeat(100_000);
  t.equal(canonicalJson({ [long]: 1 }), `{"${long}":1}`);
  t.equal(canonicalJson({ [long]: 2 }), `{"${long}":2}`, 'the same again, still right');
});

t.test('strings: escapes as JSON.stringify, nothing else', async (t) => {
  t.equal(canonicalJson('a"b\\c\n\u0001\u001f\u007f\u2028 é 😀'), JSON.stringify('a"b\\c\n\u0001\u001f\u007f\u2028 é 😀'));
  t.equal(canonicalJson({ 'k"\n': 'v' }), '{"k\\"\\n":"v"}');
});

t.test('JSON.stringify semantics for values without a JSON form', async (t) => {
  t.equal(canonicalJson(undefined), undefined);
  t.equal(canonicalJson(() => 1), undefined);
  t.equal(canonicalJson({ a: undefined, b: () => 1, c: Symbol('x'), d: 1 }), '{"d":1}');
  t.equal(canonicalJson([undefined, () => 1, Symbol('x'), null]), '[null,null,null,null]');
  t.equal(canonicalJson({ d: new Date(Date.UTC(2026, 10, 25)) }), '{"d":"2026-11-25T00:00:00.000Z"}');
  t.equal(canonicalJson({ n: new Number(3), s: new String('x'), b: new Boolean(false) }), '{"b":false,"n":3,"s":"x"}');
  t.equal(canonicalJson({ t: { toJSON: () => undefined }, u: 1 }), '{"u":1}');
  t.equal(canonicalJson([{}, []]), '[{},[]]');
});

t.test('refuses what RFC 8785 cannot represent', async (t) => {
  t.throws(() => canonicalJson(NaN), /NaN/);
  t.throws(() => canonicalJson({ a: Infinity }), /Infinity/);
  t.throws(() => canonicalJson({ a: -Infinity }), /Infinity/);
  t.throws(() => canonicalJson('\ud800'), /Lone surrogate/);
  t.throws(() => canonicalJson({ ['x\udc00']: 1 }), /Lone surrogate/);
  t.throws(() => canonicalJson({ a: 1n }), /BigInt/);
  const rawJSON = (JSON as unknown as { rawJSON: (s: string) => unknown }).rawJSON;
  t.throws(() => canonicalJson({ a: rawJSON('12345678901234567890') }), /raw JSON/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => canonicalJson(cyclic), /circular/);
  let deep: unknown = 1;
  for (let i = 0; i < 1200; i++) deep = [deep];
  t.throws(() => canonicalJson(deep), /deeper/);
  let body: unknown = 1;
  for (let i = 0; i < 1000; i++) body = { a: body };
  t.ok(canonicalJson({ input: { resource: { body: { field: body } } } }), 'a body as deep as limits.jsonDepth allows (1000) still serializes inside a record');
});


const KEY_PARTS = ['a', 'B', 'id', 'Id', '1', '10', '9', '', 'é', '\u20ac', '😀', '\ufb33', '"', '\\', '\n', '\u0000', ' ', '__proto__x', 'z', '\u0080'];
const STRINGS = ['', 'plain', 'with "quotes"', 'back\\slash', 'tab\there', '\u0001', 'é', '😀 face', '\u2028', 'SELECT Id FROM Contact', '\u007f'];

function gen(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 4 || pick < 0.35) {
    const p = r();
    if (p < 0.15) return null;
    if (p < 0.25) return r() < 0.5;
    if (p < 0.55) {
      const kinds = [() => Math.floor(r() * 1000), () => (r() - 0.5) * 1e6, () => (r() - 0.5) * 1e-9, () => r() * 1e25, () => -0, () => Number.MAX_SAFE_INTEGER];
      return kinds[Math.floor(r() * kinds.length)]!();
    }
    return STRINGS[Math.floor(r() * STRINGS.length)]! + (r() < 0.3 ? String(Math.floor(r() * 100)) : '');
  }
  if (pick < 0.6) return Array.from({ length: Math.floor(r() * 5) }, () => (r() < 0.05 ? undefined : gen(r, depth + 1)));
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const key = KEY_PARTS[Math.floor(r() * KEY_PARTS.length)]! + (r() < 0.4 ? KEY_PARTS[Math.floor(r() * KEY_PARTS.length)]! : '');
    o[key] = r() < 0.05 ? undefined : gen(r, depth + 1);
  }
  return o;
}

t.test('the same bytes as the canonicalize package on generated values', async (t) => {
  let compared = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const value = gen(rng(seed), 0);
    const want = canonicalize(value);
    const got = canonicalJson(value);
    if (got !== want) {
      t.fail(`seed ${seed}: ${got} !== ${want}`);
      return;
    }
    compared++;
  }
  t.equal(compared, 3000);
});

t.test('CanonicalText: a value serialized once is embedded verbatim, with the same bytes', async (t) => {
  for (let seed = 1; seed <= 500; seed++) {
    const value = gen(rng(seed), 0);
    const text = canonicalJson(value);
    if (text === undefined) continue;
    const whole = canonicalJson({ z: 1, input: value, a: [value] });
    const embedded = canonicalJson({ z: 1, input: new CanonicalText(text), a: [new CanonicalText(text)] });
    if (embedded !== whole) {
      t.fail(`seed ${seed}: ${embedded} !== ${whole}`);
      return;
    }
  }
  // Other serializers get the value back.
  t.equal(JSON.stringify({ input: new CanonicalText('{"a":[1,"x"]}') }), '{"input":{"a":[1,"x"]}}');
  t.ok(Object.isFrozen(new CanonicalText('1')));
});

t.test('tryCanonicalJson: the same text, or undefined where canonicalJson throws', async (t) => {
  const ok = { b: [1, 'x', null], a: { d: true, c: 1.5 } };
  t.equal(tryCanonicalJson(ok), canonicalJson(ok));
  t.equal(tryCanonicalJson(undefined), undefined);
  const deep: unknown[] = [];
  let cur = deep;
  for (let i = 0; i < 1200; i++) {
    const next: unknown[] = [];
    cur.push(next);
    cur = next;
  }
  for (const [what, v] of [
    ['lone surrogate', { s: '\ud800' }],
    ['NaN', { n: Number.NaN }],
    ['BigInt', { n: 1n }],
    ['raw JSON number', { n: (JSON as unknown as { rawJSON(s: string): object }).rawJSON('12345678901234567890') }],
    ['too deep', deep],
  ] as const) {
    t.throws(() => canonicalJson(v), `${what}: canonicalJson throws`);
    t.equal(tryCanonicalJson(v), undefined, `${what}: undefined instead`);
  }
});
