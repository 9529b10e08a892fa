/**
 * `verify`: walks every chain of a log folder and names the first position that does not hold.
 *
 * Per instance folder, in seq order: each segment's name (its first seq) follows the previous
 * segment's last seq; each line is a complete, canonical JSON line whose `seq` is the next one
 * and whose `prev` is the SHA-256 of the line before (64 zeros for seq 1); each sealed segment's
 * checkpoint carries a valid Ed25519 signature by a published (or pinned) key, and its
 * first/last seq, line count and head hash match the file. Every segment except the last must be
 * sealed; a checkpoint without its segment means the segment was deleted.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { GENESIS, canonicalLine, checkpointName, hashLine, parseSegmentName } from './chain.ts';
import { checkpointSignatureValid, keyIdOf, publishedKeys, type Checkpoint } from './checkpoint.ts';
import { listInstance } from './segments.ts';

/** What failed, as a closed set of codes (tests and scripts switch on these, not on messages). */
export type VerifyCode =
  | 'log.empty' // no segment under the folder
  | 'segment.missing' // a checkpoint without its segment: the segment was deleted
  | 'segment.boundary' // a segment does not start where the previous one ended
  | 'segment.empty' // a sealed or non-last segment without lines
  | 'segment.unsealed' // a segment other than the last has no checkpoint
  | 'line.torn' // the last bytes of a segment are not a complete line
  | 'line.not_json'
  | 'line.not_canonical' // valid JSON, but not the RFC 8785 form the writer produces
  | 'line.seq' // seq is not the next one: a line was deleted, inserted or reordered
  | 'line.prev' // prev is not the hash of the line before
  | 'checkpoint.invalid' // unreadable or missing fields
  | 'checkpoint.unknown_key' // signed by a key that is not published (or not the pinned one)
  | 'checkpoint.signature' // altered or forged
  | 'checkpoint.mismatch'; // signed, but the segment's lines differ from what it vouches for

export type VerifyProblem = {
  readonly code: VerifyCode;
  /** The instance folder. */
  readonly instance: string;
  readonly segment?: string;
  /** 1-based line number in the segment. */
  readonly line?: number;
  readonly seq?: number;
  readonly message: string;
};

export type InstanceSummary = {
  readonly instance: string;
  readonly segments: number;
  readonly records: number;
  readonly lastSeq: number;
  readonly checkpoints: number;
};

export type VerifyResult = { readonly ok: boolean; readonly instances: readonly InstanceSummary[]; readonly problems: readonly VerifyProblem[] };

/** `segment-….jsonl line N (seq S): message`, prefixed with the instance folder. */
export function describeProblem(p: VerifyProblem): string {
  let where = p.instance;
  if (p.segment !== undefined) where = join(where, p.segment);
  if (p.line !== undefined) where += ` line ${p.line}`;
  if (p.seq !== undefined) where += ` (seq ${p.seq})`;
  return `${where}: ${p.message}`;
}

async function isInstanceDir(dir: string): Promise<boolean> {
  const names = await readdir(dir);
  return names.some((n) => parseSegmentName(n) !== undefined || (n.startsWith('segment-') && n.endsWith('.checkpoint.json')));
}

/**
 * The instance folders to check: `dir` itself when it holds segments, else its subfolders that
 * do (the bundle archive `bundles/` is skipped).
 */
export async function findInstances(dir: string): Promise<string[]> {
  if (await isInstanceDir(dir)) return [dir];
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory() || e.name === 'bundles') continue;
    if (await isInstanceDir(join(dir, e.name))) out.push(join(dir, e.name));
  }
  return out;
}

export type VerifyOptions = {
  /** Trust only this public key (PEM, SPKI) instead of the keys published beside the log. */
  readonly publicKey?: KeyObject;
};

/** Verify every instance under `dir` (or `dir` itself). Reports the first problem of each instance. */
export async function verifyLog(dir: string, o: VerifyOptions = {}): Promise<VerifyResult> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir}: not a folder`);
  const instances = await findInstances(dir);
  if (instances.length === 0) return { ok: false, instances: [], problems: [{ code: 'log.empty', instance: dir, message: 'no segment files found' }] };
  const summaries: InstanceSummary[] = [];
  const problems: VerifyProblem[] = [];
  for (const inst of instances) {
    const r = await verifyInstance(inst, o);
    summaries.push(r.summary);
    if (r.problem) problems.push(r.problem);
  }
  return { ok: problems.length === 0, instances: summaries, problems };
}

const HEX64 = /^[0-9a-f]{64}$/;

function checkpointShape(v: unknown): v is Checkpoint {
  if (v === null || typeof v !== 'object') return false;
  const c = v as Record<string, unknown>;
  const int = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  return (
    c.v === 1 &&
    typeof c.instance_id === 'string' &&
    typeof c.segment === 'string' &&
    int(c.first_seq) &&
    int(c.last_seq) &&
    int(c.lines) &&
    typeof c.head === 'string' &&
    HEX64.test(c.head) &&
    typeof c.signed_at === 'string' &&
    typeof c.key_id === 'string' &&
    typeof c.signature === 'string'
  );
}

/** Verify one instance folder; stops at its first problem. */
export async function verifyInstance(dir: string, o: VerifyOptions = {}): Promise<{ summary: InstanceSummary; problem?: VerifyProblem }> {
  const instance = dir;
  const { segments, checkpointed } = await listInstance(dir);
  const keys = o.publicKey ? new Map([[keyIdOf(o.publicKey), o.publicKey]]) : await publishedKeys(dir);
  const names = [...new Set([...segments.map((s) => s.name), ...checkpointed])].sort((a, b) => parseSegmentName(a)! - parseSegmentName(b)!);
  const present = new Set(segments.map((s) => s.name));
  let expectSeq = 1;
  let prevHash = GENESIS;
  let records = 0;
  let checkpoints = 0;
  let segCount = 0;
  const summary = () => ({ instance, segments: segCount, records, lastSeq: expectSeq - 1, checkpoints });
  const fail = (p: Omit<VerifyProblem, 'instance'>) => ({ summary: summary(), problem: { instance, ...p } });
  if (names.length === 0) return fail({ code: 'log.empty', message: 'no segment files found' });

  for (let i = 0; i < names.length; i++) {
    const segment = names[i]!;
    const isLast = i === names.length - 1;
    const first = parseSegmentName(segment)!;
    if (!present.has(segment)) {
      return fail({ code: 'segment.missing', segment, message: `missing, but its checkpoint ${checkpointName(segment)} exists: the segment was deleted` });
    }
    if (first !== expectSeq) {
      const why = first > expectSeq ? `seq ${expectSeq}–${first - 1} are missing (a segment was deleted?)` : `it overlaps the previous segment`;
      return fail({ code: 'segment.boundary', segment, message: `starts at seq ${first}, expected ${expectSeq}: ${why}` });
    }
    segCount++;
    const buf = await readFile(join(dir, segment));
    let pos = 0;
    let line = 0;
    while (pos < buf.length) {
      line++;
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) {
        return fail({ code: 'line.torn', segment, line, message: `incomplete last line (${buf.length - pos} bytes without a newline): a torn write not yet recovered, or a truncated segment` });
      }
      const bytes = buf.subarray(pos, nl + 1);
      const text = bytes.toString('utf8', 0, bytes.length - 1);
      let rec: { seq?: unknown; prev?: unknown };
      try {
        rec = JSON.parse(text) as typeof rec;
      } catch {
        return fail({ code: 'line.not_json', segment, line, message: 'not valid JSON' });
      }
      const seq = rec !== null && typeof rec === 'object' && Number.isSafeInteger(rec.seq) ? (rec.seq as number) : undefined;
      if (seq !== expectSeq) {
        return fail({
          code: 'line.seq',
          segment,
          line,
          ...(seq !== undefined ? { seq } : {}),
          message: seq === undefined ? `no seq, expected ${expectSeq}` : `seq ${seq}, expected ${expectSeq}: a line was deleted, inserted or reordered`,
        });
      }
      if (rec.prev !== prevHash) {
        return fail({ code: 'line.prev', segment, line, seq, message: `prev hash mismatch: the line before was changed, or a line was deleted, inserted or reordered` });
      }
      let canonical: string | undefined;
      try {
        canonical = canonicalLine(rec);
      } catch {
        canonical = undefined;
      }
      if (canonical !== text + '\n') return fail({ code: 'line.not_canonical', segment, line, seq, message: 'not in canonical JSON form (RFC 8785): the line was edited' });
      prevHash = hashLine(bytes);
      expectSeq++;
      records++;
      pos = nl + 1;
    }
    const hasCheckpoint = checkpointed.has(segment);
    if (line === 0 && (hasCheckpoint || !isLast)) {
      return fail({ code: 'segment.empty', segment, message: 'no lines, but it is not the open segment (truncated to nothing?)' });
    }
    if (!hasCheckpoint) {
      if (!isLast) return fail({ code: 'segment.unsealed', segment, message: `closed segment has no checkpoint ${checkpointName(segment)} (deleted?)` });
      continue; // the open segment
    }
    const cpName = checkpointName(segment);
    let cp: unknown;
    try {
      cp = JSON.parse(await readFile(join(dir, cpName), 'utf8'));
    } catch {
      return fail({ code: 'checkpoint.invalid', segment: cpName, message: 'not valid JSON' });
    }
    if (!checkpointShape(cp)) return fail({ code: 'checkpoint.invalid', segment: cpName, message: 'missing or malformed fields' });
    const key = keys.get(cp.key_id);
    if (!key) {
      return fail({ code: 'checkpoint.unknown_key', segment: cpName, message: `signed by key ${cp.key_id}, which is ${o.publicKey ? 'not the pinned key' : 'not published in the folder'}` });
    }
    if (!checkpointSignatureValid(cp, key)) return fail({ code: 'checkpoint.signature', segment: cpName, message: 'signature invalid: the checkpoint was altered or forged' });
    const lastSeq = expectSeq - 1;
    const mismatch =
      cp.segment !== segment
        ? `signed for ${cp.segment}`
        : cp.first_seq !== first
          ? `first_seq ${cp.first_seq}, the segment starts at ${first}`
          : cp.last_seq > lastSeq
            ? `last_seq ${cp.last_seq}, but the segment ends at seq ${lastSeq}: the segment was truncated`
            : cp.last_seq < lastSeq
              ? `last_seq ${cp.last_seq}, but the segment ends at seq ${lastSeq}: lines were appended after it was sealed`
              : cp.lines !== line
                ? `lines ${cp.lines}, the segment has ${line}`
                : cp.head !== prevHash
                  ? 'head hash differs from the last line: the last line was changed'
                  : undefined;
    if (mismatch !== undefined) return fail({ code: 'checkpoint.mismatch', segment: cpName, message: mismatch });
    checkpoints++;
  }
  return { summary: summary() };
}

/** One line for a successful run. */
export function summaryLine(r: VerifyResult): string {
  const n = (k: keyof InstanceSummary) => r.instances.reduce((s, i) => s + (i[k] as number), 0);
  const per = r.instances.map((i) => `${basename(i.instance)} seq 1–${i.lastSeq}`).join(', ');
  return `ok: ${r.instances.length} instance${r.instances.length === 1 ? '' : 's'}, ${n('segments')} segments, ${n('records')} records, ${n('checkpoints')} checkpoints verified (${per})`;
}
