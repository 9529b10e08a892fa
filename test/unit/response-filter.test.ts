import t from 'tap';
import { Readable } from 'node:stream';
import { brotliCompressSync, deflateSync, gzipSync, deflateRawSync } from 'node:zlib';
import { isJsonContentType, parseUpstreamJson, readBounded, readUpstreamBody } from '../../gateway/response-filter.ts';

/** Read then parse, as the server does (the parse may run in a filter worker there). */
async function readJsonBody(stream: Readable, headers: Record<string, string | string[] | undefined>, limits: { maxBytes: number; maxDepth: number }) {
  const bytes = await readUpstreamBody(stream, headers, limits.maxBytes);
  return isRefusal(bytes) ? bytes : parseUpstreamJson(bytes, limits.maxDepth);
}
import { isRefusal } from '../../gateway/errors.ts';

const BODY = Buffer.from(JSON.stringify({ totalSize: 2, records: [{ Id: '003a', Name: 'Ada' }, { Id: '003b', Name: 'Émile' }] }));

/** A real Readable over `buf`, in chunks of `size` bytes. */
function chunked(buf: Buffer, size = 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

const within = <T>(p: Promise<T>, ms = 2000): Promise<T | 'still pending'> =>
  Promise.race([p, new Promise<'still pending'>((r) => setTimeout(() => r('still pending'), ms))]);

t.test('isJsonContentType', async (t) => {
  const table: [string | undefined, boolean][] = [
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['application/json;charset=UTF-8', true],
    ['Application/JSON', true],
    ['application/json ; charset=utf-8', true],
    ['application/vnd.x+json', true],
    ['application/problem+json', true],
    ['application/vnd.api+json; ext=bulk', true],
    ['text/json', false],
    ['application/jsonp', false],
    ['application/json-seq', false],
    ['application/x-ndjson', false],
    ['application/javascript', false],
    ['text/html', false],
    ['application/xjson', false],
    ['multipart/mixed; type=application/json', false],
    [' application/json', false],
    ['', false],
    [undefined, false],
  ];
  for (const [ct, want] of table) t.equal(isJsonContentType(ct), want, String(ct));
});

t.test('readBounded decodes identity, gzip, x-gzip, deflate and br with real zlib', async (t) => {
  const cases: [string | undefined, Buffer][] = [
    [undefined, BODY],
    ['', BODY],
    ['identity', BODY],
    ['gzip', gzipSync(BODY)],
    ['x-gzip', gzipSync(BODY)],
    ['GZIP', gzipSync(BODY)],
    [' gzip ', gzipSync(BODY)],
    ['deflate', deflateSync(BODY)],
    ['br', brotliCompressSync(BODY)],
  ];
  for (const [enc, wire] of cases) {
    const got = await readBounded(chunked(wire, 7), enc, 1 << 20);
    t.ok(Buffer.isBuffer(got) && got.equals(BODY), `${JSON.stringify(enc)}: decoded body`);
  }
});

t.test('over the limit: identity and a gzip bomb', async (t) => {
  const exact = await readBounded(chunked(BODY), 'identity', BODY.length);
  t.ok(Buffer.isBuffer(exact) && exact.equals(BODY), 'exactly the limit is accepted');
  t.strictSame(await readBounded(chunked(BODY), 'identity', BODY.length - 1), { refusal: true, code: 'GW_ERR_UPSTREAM_BODY_TOO_LARGE', detail: `more than ${BODY.length - 1} bytes` });

  const big = Buffer.alloc(3 << 20, 0x61);
  const src = chunked(big, 64 * 1024);
  t.strictSame(await readBounded(src, undefined, 1 << 20), { refusal: true, code: 'GW_ERR_UPSTREAM_BODY_TOO_LARGE', detail: 'more than 1048576 bytes' });
  t.equal(src.destroyed, true, 'the upstream stream is destroyed');

  const bomb = gzipSync(Buffer.alloc(10 << 20));
  t.ok(bomb.length < 20_000, `10 MB of zeros gzip to ${bomb.length} bytes`);
  const bombSrc = chunked(bomb);
  t.strictSame(await readBounded(bombSrc, 'gzip', 1 << 20), { refusal: true, code: 'GW_ERR_UPSTREAM_BODY_TOO_LARGE', detail: 'more than 1048576 bytes' }, 'limit applies to decoded bytes');
  t.equal(bombSrc.destroyed, true);
  t.strictSame(await readBounded(chunked(brotliCompressSync(Buffer.alloc(10 << 20))), 'br', 1 << 20), { refusal: true, code: 'GW_ERR_UPSTREAM_BODY_TOO_LARGE', detail: 'more than 1048576 bytes' }, 'brotli bomb');
  // Cut off mid-decode, the decoder must not raise a late error that nobody listens to (an
  // uncaught exception would fail this test file).
  for (const [encoding, compressed] of [['gzip', bomb], ['deflate', deflateSync(Buffer.alloc(10 << 20))], ['br', brotliCompressSync(Buffer.alloc(10 << 20))]] as const) {
    for (const src of [Readable.from([compressed]), chunked(compressed, 1024)]) {
      const r = await readBounded(src, encoding, 1 << 16);
      t.equal(isRefusal(r) ? r.code : 'bytes', 'GW_ERR_UPSTREAM_BODY_TOO_LARGE', `${encoding} bomb, cut`);
    }
  }
  await new Promise((r) => setTimeout(r, 50));
});

t.test('unknown or stacked encodings are refused', async (t) => {
  for (const enc of ['compress', 'zstd', 'gzip, br', 'gzip,gzip', 'chunked', 'x-custom']) {
    const src = chunked(BODY);
    t.strictSame(await readBounded(src, enc, 1 << 20), { refusal: true, code: 'GW_ERR_UPSTREAM_ENCODING', detail: `content-encoding ${enc}` }, enc);
    t.equal(src.destroyed, true, `${enc}: stream destroyed`);
  }
});

t.test('bodies that do not decode are GW_ERR_UPSTREAM_ENCODING', async (t) => {
  const gz = gzipSync(BODY);
  const corrupt = Buffer.from(gz);
  corrupt[12] = corrupt[12]! ^ 0xff;
  corrupt[20] = corrupt[20]! ^ 0xff;
  const cases: [string, string, Buffer][] = [
    ['corrupt gzip', 'gzip', corrupt],
    ['plain text labelled gzip', 'gzip', BODY],
    ['truncated gzip', 'gzip', gz.subarray(0, gz.length - 10)],
    // Cut short, or empty, but ended cleanly: the decoder's error comes at the end of its input.
    ['gzip header only', 'gzip', gz.subarray(0, 10)],
    ['empty body labelled gzip', 'gzip', Buffer.alloc(0)],
    ['empty body labelled deflate', 'deflate', Buffer.alloc(0)],
    ['empty body labelled br', 'br', Buffer.alloc(0)],
    ['raw deflate labelled deflate', 'deflate', deflateRawSync(BODY)],
    ['plain text labelled deflate', 'deflate', BODY],
    ['plain text labelled br', 'br', Buffer.from('garbage that is not brotli at all')],
  ];
  for (const [name, enc, wire] of cases) t.strictSame(await within(readBounded(chunked(wire, 5), enc, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_ENCODING', detail: 'body does not decode' }, name);
});

t.test('a corrupt brotli body is an encoding error, whatever the brotli error code', async (t) => {
  const br = Buffer.from(brotliCompressSync(Buffer.from('{"a":1}'.repeat(100))));
  br[3] = br[3]! ^ 0xff;
  br[5] = br[5]! ^ 0xff;
  t.strictSame(await readBounded(chunked(br), 'br', 1 << 20), { refusal: true, code: 'GW_ERR_UPSTREAM_ENCODING', detail: 'body does not decode' });
});

t.test('an upstream stream that fails mid-body is refused, identity or encoded', async (t) => {
  const failing = (first: Buffer) => {
    let sent = false;
    return new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(first);
        } else this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      },
    });
  };
  t.strictSame(await within(readBounded(failing(BODY.subarray(0, 10)), undefined, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_UNREACHABLE', detail: 'body read failed: ECONNRESET' }, 'identity');
  const timeout = new Readable({ read() { this.destroy(Object.assign(new Error('body timeout'), { code: 'UND_ERR_BODY_TIMEOUT' })); } });
  t.strictSame(await within(readBounded(timeout, undefined, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_TIMEOUT', detail: 'body timeout' }, 'undici body timeout');
  // With a decoder in between, the source's error must reach the reader too. (Without the
  // listener below the unhandled 'error' event would crash the whole process.)
  const src = failing(gzipSync(BODY).subarray(0, 10));
  src.on('error', () => {});
  t.strictSame(await within(readBounded(src, 'gzip', 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_UNREACHABLE', detail: 'body read failed: ECONNRESET' }, 'gzip: error propagates, no hang');
});

t.test('a stream that closes without ending, or was destroyed before the read, is refused (no hang)', async (t) => {
  const closing = new Readable({
    read() {
      this.push(BODY.subarray(0, 10));
      this.destroy(); // closes, no 'end' and no 'error'
    },
  });
  t.strictSame(await within(readBounded(closing, undefined, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_UNREACHABLE', detail: 'body read failed: ERR_STREAM_PREMATURE_CLOSE' });
  for (const encoding of [undefined, 'gzip']) {
    const gone = new Readable({ read() {} });
    gone.destroy();
    t.strictSame(await within(readBounded(gone, encoding, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_UNREACHABLE', detail: 'body read failed: ERR_STREAM_DESTROYED' }, `destroyed, ${encoding ?? 'identity'}`);
  }
  const ended = new Readable({ read() {}, autoDestroy: false });
  ended.push(null);
  ended.resume();
  await new Promise((r) => ended.once('end', r));
  t.strictSame(await within(readBounded(ended, undefined, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_UNREACHABLE', detail: 'body read failed: ERR_STREAM_ALREADY_FINISHED' }, 'already ended');
  const paused = chunked(BODY);
  paused.pause();
  const got = await within(readBounded(paused, undefined, 1 << 20));
  t.ok(Buffer.isBuffer(got) && got.equals(BODY), 'a paused stream is read');
  const failed = new Readable({ read() {} });
  failed.on('error', () => {});
  failed.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
  t.strictSame(await within(readBounded(failed, undefined, 1 << 20)), { refusal: true, code: 'GW_ERR_UPSTREAM_UNREACHABLE', detail: 'body read failed: ECONNRESET' });
});

t.test('readJsonBody', async (t) => {
  const h = (ct: string | string[] | undefined, enc?: string) => ({ 'content-type': ct, 'content-encoding': enc });
  const L = { maxBytes: 1 << 20, maxDepth: 8 };
  t.strictSame(await readJsonBody(chunked(BODY), h('application/json; charset=utf-8'), L), { value: JSON.parse(BODY.toString()) });
  t.strictSame(await readJsonBody(chunked(gzipSync(BODY)), h('application/json', 'gzip'), L), { value: JSON.parse(BODY.toString()) }, 'gzip');
  t.strictSame(await readJsonBody(chunked(BODY), h(['application/json', 'text/html']), L), { value: JSON.parse(BODY.toString()) }, 'first content-type of several');

  const html = chunked(Buffer.from('<html>'));
  t.strictSame(await readJsonBody(html, h('text/html'), L), { refusal: true, code: 'GW_ERR_UPSTREAM_NOT_JSON', detail: 'content-type text/html' });
  t.equal(html.destroyed, true);
  t.strictSame(await readJsonBody(chunked(BODY), h(undefined), L), { refusal: true, code: 'GW_ERR_UPSTREAM_NOT_JSON', detail: 'content-type absent' });

  const bad: [string, string][] = [
    ['truncated', '{"records":[{"Id":"1"}'],
    ['trailing comma', '{"a":1,}'],
    ['duplicate key', '{"Id":"1","Id":"2"}'],
    ['__proto__', '{"__proto__":{"admin":true}}'],
    ['too deep', '[[[[[[[[[1]]]]]]]]]'],
    ['empty', ''],
  ];
  for (const [name, text] of bad) {
    const r = await readJsonBody(chunked(Buffer.from(text)), h('application/json'), L);
    t.equal(isRefusal(r) ? r.code : 'parsed', 'GW_ERR_UPSTREAM_BODY_UNPARSEABLE', name);
  }
  const invalidUtf8 = await readJsonBody(chunked(Buffer.from([0x22, 0xc3, 0x28, 0x22])), h('application/json'), L);
  t.strictSame(invalidUtf8, { refusal: true, code: 'GW_ERR_UPSTREAM_BODY_UNPARSEABLE', detail: 'invalid UTF-8' });
  t.strictSame(await readJsonBody(chunked(BODY), h('application/json'), { maxBytes: 10, maxDepth: 8 }), { refusal: true, code: 'GW_ERR_UPSTREAM_BODY_TOO_LARGE', detail: 'more than 10 bytes' });
  t.strictSame(await readJsonBody(chunked(BODY), h('application/json', 'zstd'), L), { refusal: true, code: 'GW_ERR_UPSTREAM_ENCODING', detail: 'content-encoding zstd' });
});
