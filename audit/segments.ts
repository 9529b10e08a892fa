/**
 * Reading an instance folder: which segments and checkpoints it holds, and where the last
 * segment's last intact line ends (crash recovery). Used by the writer at open; `verify` reads
 * whole segments itself.
 */
import { open, readdir } from 'node:fs/promises';
import { hashLine, parseSegmentName, segmentOfCheckpoint } from './chain.ts';

export type SegmentEntry = { readonly name: string; readonly firstSeq: number };

/** Segments sorted by first seq, and the segment names that have a checkpoint file. */
export async function listInstance(instanceDir: string): Promise<{ segments: SegmentEntry[]; checkpointed: Set<string> }> {
  const names = await readdir(instanceDir);
  const segments: SegmentEntry[] = [];
  const checkpointed = new Set<string>();
  for (const name of names) {
    const first = parseSegmentName(name);
    if (first !== undefined) segments.push({ name, firstSeq: first });
    const seg = segmentOfCheckpoint(name);
    if (seg !== undefined) checkpointed.add(seg);
  }
  segments.sort((a, b) => a.firstSeq - b.firstSeq);
  return { segments, checkpointed };
}

export type Tail = {
  /** Bytes of the file up to and including the last intact line's newline. */
  readonly goodSize: number;
  /** Bytes after goodSize: a torn line (no newline) and/or trailing lines that are not chain records. */
  readonly tornBytes: number;
  /** The last intact line, when there is one. */
  readonly last?: { readonly seq: number; readonly hash: string };
};

const CHUNK = 64 * 1024;
const NL = 0x0a;

/** An intact chain line: JSON with an integer `seq` ≥ 1 and a 64-hex `prev`. */
function chainSeq(line: Buffer): number | undefined {
  try {
    const v = JSON.parse(line.toString('utf8')) as { seq?: unknown; prev?: unknown };
    if (v === null || typeof v !== 'object') return undefined;
    if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) return undefined;
    if (typeof v.prev !== 'string' || !/^[0-9a-f]{64}$/.test(v.prev)) return undefined;
    return v.seq as number;
  } catch {
    return undefined;
  }
}

/**
 * Find the last intact line of a segment file, reading backwards from its end: bytes after the
 * last newline are a torn write; a complete last line that does not parse as a chain record
 * (e.g. zero-filled blocks after a power loss) is torn too, and the search goes one line back.
 */
export async function scanTail(path: string): Promise<Tail> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    // Bytes [bufStart, size) of the file, read lazily backwards.
    let buf: Buffer = Buffer.alloc(0);
    let bufStart = size;
    const ensureFrom = async (pos: number): Promise<void> => {
      if (pos >= bufStart) return;
      const chunk = Buffer.alloc(bufStart - pos);
      await fh.read(chunk, 0, chunk.length, pos);
      buf = Buffer.concat([chunk, buf]);
      bufStart = pos;
    };
    /** Position of the last newline in [0, before), or -1. */
    const lastNewlineBefore = async (before: number): Promise<number> => {
      if (before <= 0) return -1;
      await ensureFrom(Math.max(0, before - CHUNK));
      for (;;) {
        const i = buf.lastIndexOf(NL, before - 1 - bufStart);
        if (i >= 0) return i + bufStart;
        if (bufStart === 0) return -1;
        await ensureFrom(Math.max(0, bufStart - CHUNK));
      }
    };
    let end = (await lastNewlineBefore(size)) + 1; // 0 when there is no newline at all
    while (end > 0) {
      const start = (await lastNewlineBefore(end - 1)) + 1;
      await ensureFrom(start);
      const line = buf.subarray(start - bufStart, end - bufStart);
      const seq = chainSeq(line);
      if (seq !== undefined) return { goodSize: end, tornBytes: size - end, last: { seq, hash: hashLine(line) } };
      end = start;
    }
    return { goodSize: 0, tornBytes: size };
  } finally {
    await fh.close();
  }
}

/** Read bytes [from, to) of a file. */
export async function readRange(path: string, from: number, to: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(Math.max(0, to - from));
    await fh.read(b, 0, b.length, from);
    return b;
  } finally {
    await fh.close();
  }
}
