/**
 * audit/mask.ts: the system.log.mask result is checked (malformed → error, never applied), erase
 * pointers remove and list in `erased`, upserts set and list in `masked`, the argument is never
 * mutated, and an oversized input becomes a stub with the SHA-256 of its canonical JSON.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { applyMask, minimizeInput, parseMaskRules, truncateInput } from '../../../audit/mask.ts';

const input = () => ({
  request: { method: 'POST', path: '/services/data/v60.0/sobjects/Contact', query: {} },
  resource: { object: 'Contact', action: 'create', body: { Email: 'ann@example.com', 'a/b~c': 1, Tenant__c: 'acme' } },
  subject: { id: 'u-1', roles: ['admin'] },
});

t.test('parseMaskRules: pointers and op objects; undefined is no rules', async (t) => {
  t.same(parseMaskRules(undefined), []);
  t.same(parseMaskRules([]), []);
  t.same(parseMaskRules(['/input/resource/body/Email', { op: 'upsert', path: '/input/subject/id', value: '***' }, { op: 'remove', path: '/input' }]), [
    { op: 'remove', path: '/input/resource/body/Email' },
    { op: 'upsert', path: '/input/subject/id', value: '***' },
    { op: 'remove', path: '/input' },
  ]);
  t.same(parseMaskRules([{ op: 'upsert', path: '/input/x', value: null }]), [{ op: 'upsert', path: '/input/x', value: null }], 'a null value is a value');
});

t.test('parseMaskRules: anything malformed is an error message (and never quotes the value)', async (t) => {
  for (const bad of [
    null,
    'x',
    {},
    [42],
    [null],
    [['/input/a']],
    ['input/a'],
    ['/result/allow'],
    ['/inputs/a'],
    ['/input/a~2b'],
    ['/input/a~'],
    [{ op: 'upsert', path: '/input/a' }],
    [{ op: 'upsert', path: '/input', value: {} }],
    [{ op: 'replace', path: '/input/a', value: 1 }],
    [{ op: 'remove' }],
    [{ op: 'remove', path: 7 }],
  ]) {
    const r = parseMaskRules(bad);
    t.type(r, 'string', JSON.stringify(bad));
  }
  const r = parseMaskRules(['/x/ann@example.com']);
  t.type(r, 'string');
  t.notMatch(String(r), 'ann@example.com');
});

t.test('applyMask: erase lists what it removed, upsert what it set; the argument is untouched', async (t) => {
  const before = input();
  const snapshot = structuredClone(before);
  const r = applyMask(before, [
    { op: 'remove', path: '/input/resource/body/Email' },
    { op: 'remove', path: '/input/resource/body/a~1b~0c' },
    { op: 'remove', path: '/input/resource/body/Phone' }, // absent: not listed
    { op: 'remove', path: '/input/nothing/here' }, // missing parent: not listed
    { op: 'remove', path: '/input/subject/roles/0' }, // array element: not by index
    { op: 'upsert', path: '/input/subject/id', value: '**REDACTED**' },
    { op: 'upsert', path: '/input/resource/body/Added', value: { x: 1 } },
    { op: 'upsert', path: '/input/missing/parent', value: 1 }, // no parent: not applied
  ]);
  t.same(before, snapshot, 'not mutated');
  t.same(r.erased, ['/input/resource/body/Email', '/input/resource/body/a~1b~0c']);
  t.same(r.masked, ['/input/resource/body/Added', '/input/subject/id']);
  const out = r.input as ReturnType<typeof input> & { resource: { body: Record<string, unknown> } };
  t.same(out.resource.body, { Tenant__c: 'acme', Added: { x: 1 } });
  t.equal(out.subject.id, '**REDACTED**');
  t.same(out.subject.roles, ['admin']);
  t.notOk('missing' in out);
});

t.test('applyMask: "/input" erases the whole input; no rules returns the input itself', async (t) => {
  const i = input();
  t.same(applyMask(i, [{ op: 'remove', path: '/input' }]), { input: {}, erased: ['/input'], masked: [] });
  t.equal(applyMask(i, []).input, i);
});

t.test('truncateInput: over the limit → stub with size and SHA-256 of the canonical JSON', async (t) => {
  const big = { ...input(), request: { method: 'GET', path: '/services/data/v60.0/query', query: { q: ['x'.repeat(5000)] } } };
  const text = canonicalize(big)!;
  const r = truncateInput(big, 4096);
  t.equal(r.truncated, true);
  t.same(r.input, {
    truncated: true,
    bytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
    request: { method: 'GET', path: '/services/data/v60.0/query' },
  });
  const small = truncateInput(input(), 4096);
  t.equal(small.truncated, false);
  t.same(small.input, input());
  const exact = truncateInput(big, Buffer.byteLength(text));
  t.equal(exact.truncated, false, 'a limit equal to the size keeps it');
  t.equal(truncateInput({ request: 'x'.repeat(100) }, 10).truncated, true, 'no request method/path: an empty request');
  t.same((truncateInput({ request: 'x'.repeat(100) }, 10).input as { request: unknown }).request, {});
});

t.test('minimizeInput: static erase, then mask, then size; malformed mask → Error', async (t) => {
  const r = minimizeInput(input(), { erase: ['/subject/roles'], maskResult: ['/input/resource/body/Email'], maxInputBytes: 65536 });
  if (r instanceof Error) throw r;
  t.same(r.erased, ['/input/resource/body/Email', '/subject/roles']);
  t.same(r.masked, []);
  t.equal(r.truncated, false);
  t.notMatch(JSON.stringify(r.input), 'ann@example.com');
  t.type(minimizeInput(input(), { erase: [], maskResult: [1], maxInputBytes: 65536 }), Error);
  const tr = minimizeInput(input(), { erase: [], maskResult: [], maxInputBytes: 1024 });
  t.equal(tr instanceof Error ? undefined : tr.truncated, false);
});

t.test("minimizeInput: the caller's canonical text is used only when nothing was erased or masked", async (t) => {
  const x = input();
  // A marker text, not x's real serialization: where it comes back, it was reused as given.
  const marker = '{"marker":true}';
  const kept = minimizeInput(x, { erase: [], maskResult: [], maxInputBytes: 65536, canonical: marker });
  if (kept instanceof Error) throw kept;
  t.equal(kept.canonicalInput, marker, 'nothing changed: the given text is the line');
  t.equal(kept.input, x);
  const noHit = minimizeInput(x, { erase: ['/nowhere'], maskResult: ['/input/absent'], maxInputBytes: 65536, canonical: marker });
  if (noHit instanceof Error) throw noHit;
  t.equal(noHit.canonicalInput, canonicalize(x), 'rules that matched nothing still worked on a copy: serialized again');
  for (const [what, o] of [
    ['erase', { erase: ['/subject/roles'], maskResult: [] }],
    ['mask remove', { erase: [], maskResult: ['/input/resource/body/Email'] }],
    ['mask upsert', { erase: [], maskResult: [{ op: 'upsert', path: '/input/subject/id', value: '***' }] }],
  ] as const) {
    const r = minimizeInput(x, { ...o, maxInputBytes: 65536, canonical: marker });
    if (r instanceof Error) throw r;
    t.not(r.canonicalInput, marker, `${what}: the given text is not reused`);
    t.equal(r.canonicalInput, canonicalize(r.input), `${what}: the text is the minimized input's`);
  }
  const over = minimizeInput(x, { erase: [], maskResult: [], maxInputBytes: 10, canonical: marker });
  if (over instanceof Error) throw over;
  t.equal(over.truncated, true, 'the size limit measures the given text');
  t.equal((over.input as { bytes: number }).bytes, Buffer.byteLength(marker));
});
