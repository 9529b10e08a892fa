/**
 * Shipping to a decision-log service (audit/ship.ts) against a real HTTP receiver on loopback:
 * OPA's protocol (POST /logs, gzip JSON array), a receiver that fails (500, then connection
 * refused) and recovers, in-order delivery of everything buffered, and a full buffer that drops
 * with its counter without blocking.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createShipper } from '../../../audit/ship.ts';

type Receiver = { server: Server; url: string; port: number; posts: { path: string; headers: Record<string, unknown>; records: unknown[] }[]; failNext: number; close(): Promise<void> };

async function startReceiver(port = 0): Promise<Receiver> {
  const r = { posts: [], failNext: 0 } as unknown as Receiver;
  r.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.failNext > 0) {
        r.failNext--;
        res.writeHead(500).end('down');
        return;
      }
      const records = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as unknown[];
      r.posts.push({ path: req.url ?? '', headers: req.headers, records });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => r.server.listen(port, '127.0.0.1', resolve));
  r.port = (r.server.address() as { port: number }).port;
  r.url = `http://127.0.0.1:${r.port}`;
  r.close = () => new Promise((resolve) => r.server.close(() => resolve()));
  return r;
}

const line = (i: number) => JSON.stringify({ decision_id: `d-${i}`, kind: 'decision', seq: i }) + '\n';
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const opts = { batchMaxRecords: 50, bufferMaxRecords: 1000, flushIntervalMs: 10, timeoutMs: 1000, maxBackoffMs: 80 };

t.test('OPA protocol: POST <url>/logs, gzip JSON array of the records, in order, batches of at most batchMaxRecords', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const s = createShipper({ ...opts, url: rx.url + '/' });
  for (let i = 1; i <= 120; i += 10) s.enqueue(Array.from({ length: 10 }, (_, k) => line(i + k)));
  await until(() => s.status().shipped === 120);
  t.ok(rx.posts.every((p) => p.path === '/logs'));
  t.ok(rx.posts.every((p) => p.headers['content-type'] === 'application/json' && p.headers['content-encoding'] === 'gzip'));
  t.ok(rx.posts.every((p) => Array.isArray(p.records) && p.records.length <= 50));
  t.strictSame(rx.posts.flatMap((p) => p.records.map((r) => (r as { seq: number }).seq)), Array.from({ length: 120 }, (_, i) => i + 1));
  t.match(s.status(), { buffered: 0, shipped: 120, failedAttempts: 0, dropped: { buffer_full: 0, shutdown: 0 } });
  await s.close();
});

t.test('a receiver that answers 500 and then recovers gets everything, once, in order', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  rx.failNext = 3;
  const s = createShipper({ ...opts, url: rx.url });
  for (let i = 1; i <= 200; i += 20) s.enqueue(Array.from({ length: 20 }, (_, k) => line(i + k)));
  await until(() => s.status().shipped === 200);
  t.equal(s.status().failedAttempts, 3);
  t.strictSame(rx.posts.flatMap((p) => p.records.map((r) => (r as { seq: number }).seq)), Array.from({ length: 200 }, (_, i) => i + 1));
  t.notOk('lastError' in s.status(), 'the error clears on recovery');
  await s.close();
});

t.test('connection refused, then the service comes up on that port: the buffer is delivered in order', async (t) => {
  const probe = await startReceiver();
  const port = probe.port;
  await probe.close();
  const s = createShipper({ ...opts, url: `http://127.0.0.1:${port}` });
  s.enqueue(Array.from({ length: 30 }, (_, i) => line(i + 1)));
  await until(() => s.status().failedAttempts >= 2);
  t.match(s.status(), { buffered: 30, shipped: 0, lastError: /fetch failed/ });
  s.enqueue(Array.from({ length: 30 }, (_, i) => line(i + 31)));
  const rx = await startReceiver(port);
  t.teardown(() => rx.close());
  await until(() => s.status().shipped === 60);
  t.strictSame(rx.posts.flatMap((p) => p.records.map((r) => (r as { seq: number }).seq)), Array.from({ length: 60 }, (_, i) => i + 1));
  await s.close();
});

t.test('a full buffer drops new records with a named counter and never blocks', async (t) => {
  const probe = await startReceiver();
  const port = probe.port;
  await probe.close();
  const events: string[] = [];
  const s = createShipper({ ...opts, bufferMaxRecords: 100, url: `http://127.0.0.1:${port}`, onEvent: (m) => events.push(m) });
  const started = performance.now();
  for (let i = 0; i < 25; i++) s.enqueue(Array.from({ length: 10 }, (_, k) => line(i * 10 + k + 1)));
  t.ok(performance.now() - started < 50, 'enqueue returns at once');
  t.match(s.status(), { buffered: 100, dropped: { buffer_full: 150 } });
  t.equal(events.filter((e) => /buffer full/.test(e)).length, 1, 'one log line when dropping starts, not one per record');
  // The oldest 100 are kept (in order) and go out once the service is back.
  const rx = await startReceiver(port);
  t.teardown(() => rx.close());
  await until(() => s.status().shipped === 100);
  t.strictSame(rx.posts.flatMap((p) => p.records.map((r) => (r as { seq: number }).seq)), Array.from({ length: 100 }, (_, i) => i + 1));
  await s.close();
});

t.test('close makes one last bounded attempt; what cannot go is counted as dropped at shutdown', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const s = createShipper({ ...opts, flushIntervalMs: 60_000, url: rx.url });
  s.enqueue([line(1), line(2)]);
  await s.close();
  t.match(s.status(), { shipped: 2, buffered: 0, dropped: { shutdown: 0 } });
  s.enqueue([line(3)]);
  t.match(s.status(), { dropped: { shutdown: 1 } });

  const probe = await startReceiver();
  const port = probe.port;
  await probe.close();
  const down = createShipper({ ...opts, timeoutMs: 200, url: `http://127.0.0.1:${port}` });
  down.enqueue([line(1), line(2), line(3)]);
  await down.close();
  t.match(down.status(), { shipped: 0, buffered: 0, dropped: { shutdown: 3 } });
});
