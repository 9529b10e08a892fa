/**
 * Append-only decision log: one RFC 8785 canonical-JSON line per record. Writes are batched
 * (group commit): records that arrive while a write is in flight go out together in the next
 * single write (+ one fdatasync when `fsync` is on), and every caller waits for its own batch.
 * A failed write rejects every caller of that batch, so the request is refused (fail closed)
 * instead of being answered without its record.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import type { LogRecord } from './event.ts';

export type DecisionLogOptions = { readonly dir: string; readonly fsync: boolean; readonly instanceId: string };

export type DecisionLog = {
  readonly file: string;
  /** Resolves once the record is written (and synced when fsync is on); rejects on any failure. */
  append(record: LogRecord): Promise<void>;
  close(): Promise<void>;
  status(): { file: string; written: number; failed: number; healthy: boolean };
};

type Pending = { line: string; resolve: () => void; reject: (e: Error) => void };

/** Canonical JSON (RFC 8785) of one record, as written. Exported for tests and the audit tools. */
export function canonicalLine(record: unknown): string {
  const s = canonicalize(record);
  if (s === undefined) throw new Error('record cannot be serialized');
  return s + '\n';
}

export async function openDecisionLog(o: DecisionLogOptions): Promise<DecisionLog> {
  await mkdir(o.dir, { recursive: true, mode: 0o750 });
  const safeId = o.instanceId.replace(/[^A-Za-z0-9._-]/g, '_');
  const file = join(o.dir, `decisions-${safeId}.jsonl`);
  let fh: FileHandle | undefined = await open(file, 'a', 0o640);
  let queue: Pending[] = [];
  let writing = false;
  let written = 0;
  let failed = 0;
  let healthy = true;

  const flush = async (): Promise<void> => {
    if (writing || queue.length === 0) return;
    writing = true;
    const batch = queue;
    queue = [];
    try {
      if (!fh) throw new Error('decision log is closed');
      await fh.write(batch.map((p) => p.line).join(''));
      if (o.fsync) await fh.datasync();
      written += batch.length;
      healthy = true;
      for (const p of batch) p.resolve();
    } catch (err) {
      failed += batch.length;
      healthy = false;
      for (const p of batch) p.reject(err as Error);
    } finally {
      writing = false;
      if (queue.length > 0) void flush();
    }
  };

  return {
    file,
    append(record) {
      let line: string;
      try {
        line = canonicalLine(record);
      } catch (err) {
        failed++;
        return Promise.reject(err as Error);
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ line, resolve, reject });
        void flush();
      });
    },
    async close() {
      while (writing || queue.length > 0) await new Promise((r) => setTimeout(r, 5));
      const h = fh;
      fh = undefined;
      await h?.close();
    },
    status: () => ({ file, written, failed, healthy }),
  };
}
