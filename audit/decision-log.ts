/**
 * Append-only, hash-chained decision log: one RFC 8785 canonical-JSON line per record, each
 * carrying `seq` and `prev` (audit/chain.ts), in segment files
 * `<dir>/<instance>/segment-<first seq>.jsonl` that rotate by size and age. A segment that closes
 * (rotation, clean shutdown, or recovery after a crash) gets a signed checkpoint
 * (audit/checkpoint.ts).
 *
 * Writes are batched (group commit): records that arrive while a write is in flight go out
 * together in the next single write, and every caller waits for its own batch. Durability modes:
 *  - `fsync` (default): one write + one fdatasync per batch; a caller resolves after both;
 *  - `batch`: writes go out as above, fdatasync runs at most every `batchIntervalMs`; a caller
 *    resolves after the sync that covers its bytes (fewer syncs, a little more waiting);
 *  - `none`: no sync until a segment is sealed (benchmarks only: a crash can lose answered records).
 * A failed write (or sync) rejects every caller it covers, so the request is refused (fail
 * closed) instead of being answered without its record.
 *
 * The chain is extended when a record is appended (canonical JSON and hashing run while the
 * previous batch is being synced, not after it); when a batch fails, the records queued behind it
 * are re-chained from the last line on disk, and the failed batch's bytes are cut before the next
 * write, so the file never holds a broken link.
 */
import { mkdir, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { GENESIS, chainedLine, checkpointName, hashLine, instanceFolder, segmentName } from './chain.ts';
import { loadCheckpointKey, signCheckpoint, syncDir, writeFileDurably, type CheckpointBody, type CheckpointKey } from './checkpoint.ts';
import { listInstance, readRange, scanTail } from './segments.ts';
import type { Labels, LogRecord, RecoveryRecord } from './event.ts';
import type { ShipStatus } from './ship.ts';

export { canonicalLine } from './chain.ts';

export type DecisionLogOptions = {
  /** The log root; this instance writes to `<dir>/<instance folder>/`. */
  readonly dir: string;
  /** Default `fsync`. */
  readonly durability?: Durability;
  /** `batch` mode: at most one fdatasync per this many ms (default 10). */
  readonly batchIntervalMs?: number;
  /** Deprecated alias: true = `fsync`, false = `none`; `durability` wins when both are given. */
  readonly fsync?: boolean;
  readonly instanceId: string;
  /** A segment is closed before a batch would take it past this size (bytes); default 64 MiB. */
  readonly segmentBytes?: number;
  /** A segment is closed once its first line is this old (ms); default 1 hour. */
  readonly segmentMaxAgeMs?: number;
  /** PKCS#8 PEM Ed25519 private key for checkpoints; absent: generated in the instance folder. */
  readonly checkpointKey?: string;
  /** Labels for the records the log writes itself (recovery). */
  readonly labels?: Labels;
  /** Clock (ms since the epoch), for tests. */
  readonly now?: () => number;
  /** The one write of a batch, replaceable to inject faults in tests. */
  readonly write?: (fh: FileHandle, data: Buffer) => Promise<unknown>;
  /** The fdatasync of a batch, replaceable to inject faults in tests. */
  readonly sync?: (fh: FileHandle) => Promise<unknown>;
  /**
   * Gets the lines of every batch once it is durable (per the mode), in chain order, e.g. the
   * shipper (audit/ship.ts). `enqueue` must not block; an exception is ignored (the local trail
   * is the system of record). Its status shows in `status().ship`; it is closed after the log.
   */
  readonly ship?: LogSink;
};

export type LogSink = {
  enqueue(lines: readonly string[]): void;
  status(): ShipStatus;
  close(): Promise<void>;
};


export type Durability = 'fsync' | 'batch' | 'none';
export const DURABILITY_MODES: readonly Durability[] = ['fsync', 'batch', 'none'];

export type DecisionLogStatus = {
  /** The current segment. */
  file: string;
  /** Records written (and synced, per the mode). */
  written: number;
  /** Records that could not be written: their requests were refused. */
  failed: number;
  healthy: boolean;
  durability: Durability;
  /** seq of the last record on disk (0: none yet). */
  seq: number;
  /** Shipping to a decision-log service, when configured. */
  ship?: ShipStatus;
};

export type DecisionLog = {
  /** The current segment file (it changes when the log rotates). */
  readonly file: string;
  /** The instance folder holding the segments, checkpoints and the public key. */
  readonly instanceDir: string;
  /** Things the operator should know, for the gateway's log (e.g. a generated checkpoint key). */
  readonly warnings: readonly string[];
  /** Resolves once the record is written (and synced when fsync is on); rejects on any failure. */
  append(record: LogRecord): Promise<void>;
  /** Writes what is queued, seals the current segment with its checkpoint, closes the file. */
  close(): Promise<void>;
  status(): DecisionLogStatus;
};

const DEFAULT_SEGMENT_BYTES = 67_108_864; // 64 MiB
const DEFAULT_SEGMENT_MAX_AGE_MS = 3_600_000; // 1 hour

type Pending = { record: LogRecord; line: string; seq: number; hash: string; resolve: () => void; reject: (e: Error) => void };
type Segment = { name: string; path: string; firstSeq: number; fh: FileHandle; size: number; lines: number; firstLineAt: number; headHash: string };

export async function openDecisionLog(o: DecisionLogOptions): Promise<DecisionLog> {
  const now = o.now ?? Date.now;
  const durability: Durability = o.durability ?? (o.fsync === false ? 'none' : 'fsync');
  const batchIntervalMs = o.batchIntervalMs ?? 10;
  const datasync = o.sync ?? ((fh: FileHandle) => fh.datasync());
  const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const maxAgeMs = o.segmentMaxAgeMs ?? DEFAULT_SEGMENT_MAX_AGE_MS;
  const instanceDir = join(o.dir, instanceFolder(o.instanceId));
  await mkdir(instanceDir, { recursive: true, mode: 0o750 });
  const key = await loadCheckpointKey(instanceDir, o.checkpointKey);
  const warnings: string[] = key.warning !== undefined ? [key.warning] : [];
  if (durability === 'none') {
    warnings.push('decisionLog.durability is "none": records are not synced to disk, a crash or power loss can lose records of answered requests. For benchmarks only, never in production.');
  }

  // Where the chain continues: the last intact line of the last segment.
  const { segments, checkpointed } = await listInstance(instanceDir);
  let durable = { seq: 0, hash: GENESIS };
  let recovery: Omit<RecoveryRecord, 'kind' | 'v' | 'timestamp' | 'labels'> | undefined;
  while (segments.length > 0) {
    const last = segments[segments.length - 1]!;
    const path = join(instanceDir, last.name);
    const tail = await scanTail(path);
    if (checkpointed.has(last.name)) {
      // Closed cleanly: continue from the signed head. (A sealed segment whose bytes no longer
      // match its checkpoint is left as it is, as evidence; verify names it.)
      durable = (await readCheckpointHead(join(instanceDir, checkpointName(last.name)))) ?? tail.last ?? durable;
      break;
    }
    // Not closed: the gateway stopped without sealing it (crash, kill -9, power loss).
    let cut: { bytes: number; sha256?: string } = { bytes: tail.tornBytes };
    if (tail.tornBytes > 0) {
      cut = { bytes: tail.tornBytes, sha256: hashLine(await readRange(path, tail.goodSize, tail.goodSize + tail.tornBytes)) };
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(tail.goodSize);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    if (!tail.last) {
      // Nothing intact in it: remove the empty file and look at the segment before.
      await unlink(path);
      segments.pop();
      recovery ??= { segment: last.name, truncated_bytes: cut.bytes, ...(cut.sha256 ? { truncated_sha256: cut.sha256 } : {}), last_seq: 0 };
      continue;
    }
    durable = tail.last;
    const lines = countLines(await readRange(path, 0, tail.goodSize));
    await writeCheckpoint(instanceDir, key, {
      v: 1,
      instance_id: o.instanceId,
      segment: last.name,
      first_seq: last.firstSeq,
      last_seq: tail.last.seq,
      head: tail.last.hash,
      lines,
      signed_at: new Date(now()).toISOString(),
      key_id: key.keyId,
    });
    recovery = { segment: last.name, truncated_bytes: (recovery?.truncated_bytes ?? 0) + cut.bytes, ...(cut.sha256 ? { truncated_sha256: cut.sha256 } : {}), last_seq: tail.last.seq };
    break;
  }
  if (recovery) recovery = { ...recovery, last_seq: durable.seq };

  let assigned = { ...durable };
  let seg: Segment | undefined = await createSegment(durable.seq + 1);
  let queue: Pending[] = [];
  let writing = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  let cutBeforeNextWrite = false;
  let written = 0;
  let failed = 0;
  let healthy = true;
  let currentFile = seg.path;

  async function createSegment(firstSeq: number): Promise<Segment> {
    const name = segmentName(firstSeq);
    const path = join(instanceDir, name);
    // 'ax': a segment is never reopened; a name clash is an error, not an interleaving.
    const fh = await open(path, 'ax', 0o640);
    if (durability !== 'none') await syncDir(instanceDir);
    return { name, path, firstSeq, fh, size: 0, lines: 0, firstLineAt: 0, headHash: '' };
  }

  /** Seal the current segment: checkpoint when it has lines, remove it when it is empty. */
  async function sealSegment(s: Segment): Promise<void> {
    if (s.lines === 0) {
      await s.fh.close();
      await unlink(s.path);
      return;
    }
    if (durability !== 'fsync') await s.fh.datasync(); // the checkpoint vouches for bytes that must be on disk
    await writeCheckpoint(instanceDir, key, {
      v: 1,
      instance_id: o.instanceId,
      segment: s.name,
      first_seq: s.firstSeq,
      last_seq: s.firstSeq + s.lines - 1,
      head: s.headHash,
      lines: s.lines,
      signed_at: new Date(now()).toISOString(),
      key_id: key.keyId,
    });
    await s.fh.close();
  }

  /** Re-chain the queued records from the last line on disk (after a failed batch). */
  const rechain = (): void => {
    assigned = { ...durable };
    for (const p of queue) {
      p.seq = assigned.seq + 1;
      p.line = chainedLine(p.record, p.seq, assigned.hash);
      p.hash = hashLine(p.line);
      assigned = { seq: p.seq, hash: p.hash };
    }
  };

  const flush = async (): Promise<void> => {
    if (writing || queue.length === 0) return;
    writing = true;
    const batch = queue;
    queue = [];
    try {
      const data = Buffer.from(batch.length === 1 ? batch[0]!.line : batch.map((p) => p.line).join(''), 'utf8');
      if (!seg) {
        // A rotation sealed the old segment but could not create the next one: try again.
        seg = await createSegment(batch[0]!.seq);
        currentFile = seg.path;
      }
      if (cutBeforeNextWrite) {
        await seg.fh.truncate(seg.size);
        cutBeforeNextWrite = false;
      }
      if (seg.lines > 0 && (seg.size + data.length > segmentBytes || now() - seg.firstLineAt >= maxAgeMs)) {
        await rotate(batch[0]!.seq);
      }
      const s = seg;
      cutBeforeNextWrite = true; // until the bytes are known to be written (and synced)
      await (o.write ?? writeAll)(s.fh, data);
      if (durability === 'fsync') await datasync(s.fh);
      cutBeforeNextWrite = false;
      if (s.lines === 0) s.firstLineAt = now();
      s.size += data.length;
      s.lines += batch.length;
      const last = batch[batch.length - 1]!;
      s.headHash = last.hash;
      durable = { seq: last.seq, hash: last.hash };
      if (durability === 'batch') {
        // Written, not yet synced: the callers wait for the sync that covers these bytes.
        unsynced.push({ fh: s.fh, batch });
        scheduleSync();
      } else {
        written += batch.length;
        healthy = true;
        for (const p of batch) p.resolve();
        notify(batch);
      }
    } catch (err) {
      failed += batch.length;
      healthy = false;
      rechain();
      for (const p of batch) p.reject(err as Error);
    } finally {
      writing = false;
      if (queue.length > 0) void flush();
    }
  };

  const notify = (batch: readonly Pending[]): void => {
    if (!o.ship) return;
    try {
      o.ship.enqueue(batch.map((p) => p.line));
    } catch {
      // shipping is best effort; the local trail is the system of record
    }
  };

  // ---- batch mode: deferred fdatasync --------------------------------------------------------
  // Batches written but not yet synced, with the file they went to (a rotation syncs them first).
  let unsynced: { fh: FileHandle; batch: Pending[] }[] = [];
  let syncChain: Promise<void> = Promise.resolve();
  let syncTimer: ReturnType<typeof setTimeout> | undefined;
  let lastSyncAt = -Infinity;
  let syncing = false;

  /** Sync everything written so far and answer its callers (serialized: one sync at a time). */
  const syncUnsynced = (): Promise<void> => {
    syncChain = syncChain.then(async () => {
      const items = unsynced;
      unsynced = [];
      if (items.length === 0) return;
      const batches = items.map((i) => i.batch);
      syncing = true;
      lastSyncAt = performance.now(); // syncs start at least batchIntervalMs apart
      try {
        for (const fh of new Set(items.map((i) => i.fh))) await datasync(fh);
        healthy = true;
        for (const b of batches) {
          written += b.length;
          for (const p of b) p.resolve();
          notify(b);
        }
      } catch (err) {
        // The bytes are in the file (the chain holds) but not known durable: their callers are
        // refused, which leaves records without answers, never answers without records.
        healthy = false;
        for (const b of batches) {
          failed += b.length;
          for (const p of b) p.reject(err as Error);
        }
      } finally {
        syncing = false;
        // Batches written while this sync ran wait for the next one.
        if (unsynced.length > 0) scheduleSync();
      }
    });
    return syncChain;
  };

  const scheduleSync = (): void => {
    if (syncTimer || syncing) return;
    const wait = Math.max(0, lastSyncAt + batchIntervalMs - performance.now());
    syncTimer = setTimeout(() => {
      syncTimer = undefined;
      void syncUnsynced();
    }, wait);
  };

  /** Close the current segment and open the next, which starts at `nextSeq`. */
  async function rotate(nextSeq: number): Promise<void> {
    await syncUnsynced();
    await sealSegment(seg!);
    seg = undefined;
    seg = await createSegment(nextSeq);
    currentFile = seg.path;
  }

  // Age rotation of a segment that stopped receiving records (a busy one rotates in flush).
  const ageTimer = setInterval(
    () => {
      if (writing || closed || !seg || seg.lines === 0 || now() - seg.firstLineAt < maxAgeMs) return;
      writing = true;
      rotate(durable.seq + 1)
        .catch(() => {
          // Retried on the next tick or write; a write that cannot rotate fails and is refused.
        })
        .finally(() => {
          writing = false;
          if (queue.length > 0) void flush();
        });
    },
    Math.min(60_000, Math.max(50, Math.floor(maxAgeMs / 4))),
  );
  ageTimer.unref();

  const append = (record: LogRecord): Promise<void> => {
    if (closed) {
      failed++;
      healthy = false;
      return Promise.reject(new Error('decision log is closed'));
    }
    const seq = assigned.seq + 1;
    let line: string;
    try {
      line = chainedLine(record, seq, assigned.hash);
    } catch (err) {
      failed++;
      return Promise.reject(err as Error);
    }
    const hash = hashLine(line);
    assigned = { seq, hash };
    return new Promise<void>((resolve, reject) => {
      queue.push({ record, line, seq, hash, resolve, reject });
      void flush();
    });
  };

  if (recovery) {
    const rec: RecoveryRecord = { kind: 'recovery', v: 1, timestamp: new Date(now()).toISOString(), ...(o.labels ? { labels: o.labels } : {}), ...recovery };
    await append(rec);
  }

  return {
    get file() {
      return currentFile;
    },
    instanceDir,
    warnings,
    append,
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(ageTimer);
        while (writing || queue.length > 0) await new Promise((r) => setTimeout(r, 5));
        if (syncTimer) clearTimeout(syncTimer);
        syncTimer = undefined;
        await syncUnsynced();
        const s = seg;
        seg = undefined;
        if (!s) return void (await o.ship?.close());
        try {
          if (cutBeforeNextWrite) await s.fh.truncate(s.size);
          await sealSegment(s);
        } finally {
          await o.ship?.close();
        }
      })();
      return closing;
    },
    status: () => ({ file: currentFile, written, failed, healthy, durability, seq: durable.seq, ...(o.ship ? { ship: o.ship.status() } : {}) }),
  };
}

async function writeCheckpoint(instanceDir: string, key: CheckpointKey, body: CheckpointBody): Promise<void> {
  const cp = signCheckpoint(body, key);
  await writeFileDurably(join(instanceDir, checkpointName(body.segment)), JSON.stringify(cp, null, 2) + '\n', 0o640);
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** One batch, all of it: a regular file can take fewer bytes than asked (then the next write says why). */
async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) off += (await fh.write(data, off, data.length - off)).bytesWritten;
}

/** last_seq and head of a checkpoint file, when it can be read. */
async function readCheckpointHead(path: string): Promise<{ seq: number; hash: string } | undefined> {
  try {
    const cp = JSON.parse(await readFile(path, 'utf8')) as { last_seq?: unknown; head?: unknown };
    if (Number.isSafeInteger(cp.last_seq) && typeof cp.head === 'string' && /^[0-9a-f]{64}$/.test(cp.head)) return { seq: cp.last_seq as number, hash: cp.head };
  } catch {
    // unreadable: the caller falls back to the segment's last line
  }
  return undefined;
}
