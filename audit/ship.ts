/**
 * Ships a copy of every record the decision log wrote to a decision-log service speaking OPA's
 * protocol: `POST <url>/logs`, `Content-Type: application/json`, `Content-Encoding: gzip`, the
 * body a gzip-compressed JSON array of events (here: the trail's records, each exactly its
 * canonical line, chain fields `seq` and `prev` included, so a receiver can check the chain).
 *
 * The local trail stays the system of record: the log hands each durable batch to `enqueue`,
 * which only appends to a bounded in-memory buffer and returns; a full buffer drops the new
 * records and counts them (`dropped.buffer_full`), it never blocks or fails a request. One POST
 * at a time, oldest records first, at most `batchMaxRecords` per POST; a failed POST (non-2xx,
 * connection error, timeout) is retried with exponential backoff (flushIntervalMs × 2^n, capped at
 * maxBackoffMs, with jitter) and the records stay at the head of the buffer, so delivery is in
 * order. Records still buffered when the gateway stops (after one last bounded attempt) are
 * counted in `dropped.shutdown`.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

const gzip = promisify(gzipCb);

export type ShipOptions = {
  /** The service's base URL; records go to `<url>/logs`. */
  readonly url: string;
  readonly batchMaxRecords: number;
  readonly bufferMaxRecords: number;
  readonly flushIntervalMs: number;
  readonly timeoutMs: number;
  readonly maxBackoffMs: number;
  /** Told about failed attempts and drops (rate: at most once per state change), for the gateway's log. */
  readonly onEvent?: (msg: string, extra: Record<string, unknown>) => void;
};

export type ShipStatus = {
  url: string;
  /** Records waiting in the buffer (the POST in flight included). */
  buffered: number;
  /** Records the service acknowledged (2xx). */
  shipped: number;
  /** POSTs that failed (non-2xx, connection error, timeout). */
  failedAttempts: number;
  /** Records dropped, by reason: `buffer_full` (the service was too slow or down), `shutdown`. */
  dropped: { buffer_full: number; shutdown: number };
  /** The last failure, while the service keeps failing. */
  lastError?: string;
};

export type Shipper = {
  /** Adds durable lines (canonical JSON + `\n`) to the buffer; never blocks, never throws. */
  enqueue(lines: readonly string[]): void;
  /** Tries to deliver what is buffered now (tests, shutdown). */
  flush(): Promise<void>;
  /** One last attempt bounded by timeoutMs, then stops; what is left is counted as dropped. */
  close(): Promise<void>;
  status(): ShipStatus;
};

export function createShipper(o: ShipOptions): Shipper {
  const endpoint = o.url.replace(/\/+$/, '') + '/logs';
  // The buffer: an array with a moving head (shifting 500 entries per POST would be O(n)).
  let buf: string[] = [];
  let head = 0;
  const size = () => buf.length - head;
  let shipped = 0;
  let failedAttempts = 0;
  let consecutiveFailures = 0;
  const dropped = { buffer_full: 0, shutdown: 0 };
  let lastError: string | undefined;
  let inFlight: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDue = Infinity;
  let closed = false;
  let droppingSince = false;

  const schedule = (delayMs: number): void => {
    if (closed) return;
    const due = Date.now() + delayMs;
    if (timer && timerDue <= due) return;
    if (timer) clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(() => {
      timer = undefined;
      timerDue = Infinity;
      void attempt();
    }, delayMs);
    timer.unref();
  };

  /** One POST of the oldest records; on success they leave the buffer. */
  const attempt = (): Promise<void> => {
    if (inFlight || size() === 0) return inFlight ?? Promise.resolve();
    inFlight = (async () => {
      const n = Math.min(size(), o.batchMaxRecords);
      const lines = buf.slice(head, head + n);
      try {
        // Each line is one canonical JSON object + '\n': the array is their concatenation.
        const body = await gzip(Buffer.from('[' + lines.map((l) => l.slice(0, -1)).join(',') + ']', 'utf8'));
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
        head += n;
        if (head > 4096 && head * 2 > buf.length) {
          buf = buf.slice(head);
          head = 0;
        }
        shipped += n;
        if (consecutiveFailures > 0) o.onEvent?.('decision log shipping recovered', { url: endpoint, failedAttempts: consecutiveFailures });
        consecutiveFailures = 0;
        lastError = undefined;
      } catch (err) {
        failedAttempts++;
        consecutiveFailures++;
        lastError = (err as Error).message + (((err as Error).cause as Error | undefined)?.message ? `: ${((err as Error).cause as Error).message}` : '');
        if (consecutiveFailures === 1) o.onEvent?.('decision log shipping failed; retrying with backoff', { url: endpoint, error: lastError, buffered: size() });
      } finally {
        inFlight = undefined;
      }
      if (size() === 0) return;
      if (consecutiveFailures > 0) {
        const backoff = Math.min(o.maxBackoffMs, o.flushIntervalMs * 2 ** Math.min(consecutiveFailures - 1, 30));
        schedule(Math.round(backoff * (0.75 + Math.random() * 0.25)));
      } else schedule(size() >= o.batchMaxRecords ? 0 : o.flushIntervalMs);
    })();
    return inFlight;
  };

  return {
    enqueue(lines) {
      if (closed) {
        dropped.shutdown += lines.length;
        return;
      }
      const room = o.bufferMaxRecords - size();
      const take = Math.min(room, lines.length);
      for (let i = 0; i < take; i++) buf.push(lines[i]!);
      if (take < lines.length) {
        dropped.buffer_full += lines.length - take;
        if (!droppingSince) o.onEvent?.('decision log shipping buffer full; dropping records (the local trail keeps them)', { url: endpoint, bufferMaxRecords: o.bufferMaxRecords });
        droppingSince = true;
      } else droppingSince = false;
      // A full batch goes now (unless backing off); otherwise within flushIntervalMs.
      if (consecutiveFailures === 0) schedule(size() >= o.batchMaxRecords ? 0 : o.flushIntervalMs);
    },
    async flush() {
      while (size() > 0 && !closed) {
        const before = failedAttempts;
        await attempt();
        if (failedAttempts > before) return;
      }
    },
    async close() {
      if (closed) return;
      const deadline = Date.now() + o.timeoutMs;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (inFlight) await inFlight;
      while (size() > 0 && consecutiveFailures === 0 && Date.now() < deadline) await attempt();
      closed = true;
      if (timer) clearTimeout(timer);
      dropped.shutdown += size();
      buf = [];
      head = 0;
    },
    status: () => ({ url: endpoint, buffered: size(), shipped, failedAttempts, dropped: { ...dropped }, ...(lastError !== undefined ? { lastError } : {}) }),
  };
}
