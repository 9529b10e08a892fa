/**
 * The hash chain and the segment naming, shared by the writer and `verify`. Pure: no I/O.
 *
 * Every line is the RFC 8785 canonical JSON of a record plus two chain fields, `seq` (1-based,
 * per gateway instance, continuous across segments) and `prev` (hex SHA-256 of the previous
 * line's exact bytes, newline included; the first line of a chain has 64 zeros), then `\n`.
 * Because `prev` covers the previous line's bytes, changing, removing, inserting or reordering a
 * line breaks a link that `verify` names.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';

/** `prev` of the first line of a chain. */
export const GENESIS = '0'.repeat(64);

/** The chain fields the writer adds to every record. */
export type ChainFields = { readonly seq: number; readonly prev: string };

/** Canonical JSON (RFC 8785) of one record, as written, with its newline. */
export function canonicalLine(record: unknown): string {
  const s = canonicalJson(record);
  if (s === undefined) throw new Error('record cannot be serialized');
  return s + '\n';
}

/** Hex SHA-256 of a line's exact bytes (include the newline). */
export function hashLine(line: string | Uint8Array): string {
  return hash('sha256', line, 'hex'); // one-shot: a quarter cheaper than createHash per line
}

/** The line written for `record` at position `seq` after a line whose hash is `prev`. */
export function chainedLine(record: object, seq: number, prev: string): string {
  // The chain fields win over any same-named field of the record.
  return canonicalLine({ ...record, seq, prev });
}

const SEGMENT_RE = /^segment-(\d{12})\.jsonl$/;
const CHECKPOINT_SUFFIX = '.checkpoint.json';

/** `segment-000000000001.jsonl`: the seq of the segment's first line, zero-padded to 12. */
export function segmentName(firstSeq: number): string {
  return `segment-${String(firstSeq).padStart(12, '0')}.jsonl`;
}

/** The first seq a segment file name stands for, or undefined when it is not a segment name. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** `segment-….jsonl.checkpoint.json` beside its segment. */
export function checkpointName(segment: string): string {
  return segment + CHECKPOINT_SUFFIX;
}

/** The segment a checkpoint file name belongs to, or undefined. */
export function segmentOfCheckpoint(name: string): string | undefined {
  if (!name.endsWith(CHECKPOINT_SUFFIX)) return undefined;
  const seg = name.slice(0, -CHECKPOINT_SUFFIX.length);
  return parseSegmentName(seg) === undefined ? undefined : seg;
}

/**
 * The instance folder name: the instance id with anything outside `[A-Za-z0-9._-]` replaced by
 * `_`; `.`, `..` and `bundles` (the bundle archive beside the instance folders) get a `_` prefix.
 */
export function instanceFolder(instanceId: string): string {
  const safe = instanceId.replace(/[^A-Za-z0-9._-]/g, '_');
  return /^\.+$/.test(safe) || safe === 'bundles' ? `_${safe}` : safe;
}
