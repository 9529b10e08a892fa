/**
 * Reads an upstream body for filtering: bounded, decoded, JSON only, parsed safely. Everything
 * that cannot be read this way is a refusal (502 with a reason code): a body the gateway
 * cannot parse is never passed through.
 */
import { createGunzip, createInflate, createBrotliDecompress, type Gunzip, type Inflate, type BrotliDecompress } from 'node:zlib';
import type { Readable } from 'node:stream';
import { isRefusal, refuse } from './errors.ts';
import { safeParseJson } from './json/safe-parse.ts';
import type { Refusal } from './types.ts';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;|$)/i;

export function isJsonContentType(ct: string | undefined): boolean {
  return ct !== undefined && JSON_TYPE.test(ct);
}

/** The content codings the gateway decodes (and so the only ones it may ask an upstream for). */
const DECODERS: Readonly<Record<string, () => Gunzip | Inflate | BrotliDecompress>> = Object.freeze({
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
});

/** Whether a content coding (lower case) is identity or one the gateway decodes. */
export const isDecodable = (coding: string): boolean => coding === 'identity' || Object.hasOwn(DECODERS, coding);

function decoder(encoding: string | undefined): Gunzip | Inflate | BrotliDecompress | null | undefined {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  if (e === '' || e === 'identity') return null;
  return Object.hasOwn(DECODERS, e) ? DECODERS[e]!() : undefined;
}

/** Collect at most `maxBytes` decoded bytes; destroys the streams past the limit. */
export async function readBounded(stream: Readable, encoding: string | undefined, maxBytes: number): Promise<Buffer | Refusal> {
  const dec = decoder(encoding);
  if (dec === undefined) {
    stream.destroy();
    return refuse('GW_ERR_UPSTREAM_ENCODING', `content-encoding ${String(encoding).slice(0, 32)}`);
  }
  // A stream that already failed or ended emits nothing more: listeners would wait forever.
  if (stream.destroyed || stream.errored || stream.readableEnded) {
    stream.destroy();
    return readFailure(stream.errored ?? { code: stream.readableEnded ? 'ERR_STREAM_ALREADY_FINISHED' : 'ERR_STREAM_DESTROYED' }, false);
  }
  // With a decoder: pipe() plus our own listeners on both ends, not compose(). compose() left a
  // decoder error at the end of the input (a body cut short, or empty, but ended cleanly:
  // Z_BUF_ERROR) as an unhandled 'error' event, which ended the process. Here the upstream's
  // error or premature close is handed to the decoder, and the reader below sees it there.
  const source: Readable = dec ?? stream;
  if (dec) {
    stream.on('error', (err) => dec.destroy(err));
    stream.once('close', () => {
      if (!stream.readableEnded) dec.destroy(Object.assign(new Error('upstream body closed early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
    stream.pipe(dec);
  }
  // Listeners, not `for await`: the async iterator costs a promise and a tick per chunk, on
  // every filtered response.
  return new Promise((resolvePromise) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (r: Buffer | Refusal) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      // A late 'error' (after the limit or the end) must not become an uncaught exception.
      source.off('error', onError).on('error', () => undefined);
      resolvePromise(r);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.destroy();
        source.destroy();
        done(refuse('GW_ERR_UPSTREAM_BODY_TOO_LARGE', `more than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onError = (err: unknown) => {
      stream.destroy();
      done(readFailure(err, dec !== null));
    };
    // Closed without 'end' (a reset the stream reports only by closing): what `for await` calls
    // a premature close. After 'end' or 'error' this is a no-op.
    const onClose = () => {
      if (settled) return;
      stream.destroy();
      done(readFailure({ code: 'ERR_STREAM_PREMATURE_CLOSE' }, dec !== null));
    };
    source.on('data', onData);
    source.once('end', onEnd);
    source.on('error', onError);
    source.once('close', onClose);
    // A 'data' listener starts a stream unless someone paused it explicitly: start it anyway.
    source.resume();
  });
}

function readFailure(err: unknown, decoding: boolean): Refusal {
  const code = (err as { code?: string }).code ?? '';
  if (decoding && (code.startsWith('Z_') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR__ERROR_FORMAT_') || code === 'ERR_ZLIB_INITIALIZATION_FAILED')) {
    return refuse('GW_ERR_UPSTREAM_ENCODING', 'body does not decode');
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') return refuse('GW_ERR_UPSTREAM_TIMEOUT', 'body timeout');
  return refuse('GW_ERR_UPSTREAM_UNREACHABLE', `body read failed: ${code || (err as Error).message}`);
}

/**
 * The upstream body of a filtered route, as bytes: JSON content types only, decoded, bounded.
 * Parsing is the CPU-heavy half and happens in gateway/response-body.ts (on the event loop or in
 * a filter worker).
 */
export async function readUpstreamBody(stream: Readable, headers: Record<string, string | string[] | undefined>, maxBytes: number): Promise<Buffer | Refusal> {
  const ct = headers['content-type'];
  if (!isJsonContentType(Array.isArray(ct) ? ct[0] : ct)) {
    stream.destroy();
    return refuse('GW_ERR_UPSTREAM_NOT_JSON', `content-type ${String(ct ?? 'absent').slice(0, 64)}`);
  }
  const enc = headers['content-encoding'];
  return readBounded(stream, Array.isArray(enc) ? enc.join(',') : enc, maxBytes);
}

/**
 * The body of an upstream error answer (non-2xx, any route), as bytes: decoded and bounded like a
 * filtered body, whatever its content type, so that an empty one can be told apart. A non-empty
 * body that is not JSON is refused (it cannot be reduced to error members); an empty one is an
 * empty Buffer.
 */
export async function readUpstreamErrorBody(stream: Readable, headers: Record<string, string | string[] | undefined>, maxBytes: number): Promise<Buffer | Refusal> {
  const enc = headers['content-encoding'];
  const bytes = await readBounded(stream, Array.isArray(enc) ? enc.join(',') : enc, maxBytes);
  if (isRefusal(bytes) || bytes.length === 0) return bytes;
  const ct = headers['content-type'];
  if (!isJsonContentType(Array.isArray(ct) ? ct[0] : ct)) return refuse('GW_ERR_UPSTREAM_NOT_JSON', `error answer, content-type ${String(ct ?? 'absent').slice(0, 64)}`);
  return bytes;
}

/** Parse upstream bytes safely (gateway/json/safe-parse.ts); anything unparseable is a 502 refusal. */
export function parseUpstreamJson(bytes: Buffer, maxDepth: number): { value: unknown } | Refusal {
  // Upstream bytes: the configured CRM's, not a client's (see SafeParseLimits.fastPath).
  const parsed = safeParseJson(bytes, { maxDepth, fastPath: true });
  if (!parsed.ok) return refuse('GW_ERR_UPSTREAM_BODY_UNPARSEABLE', parsed.why);
  return { value: parsed.value };
}
