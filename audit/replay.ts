/**
 * `replay`: re-evaluates every decision the policy made against the bundle that made it, and
 * compares the result byte for byte.
 *
 * For each decision record whose `result` is not null (the policy ran and returned a document
 * that passed the contract check), the archived bundle `<dir>/bundles/<provenance.bundle_sha256>.tar.gz`
 * is loaded into the same engine the gateway uses (gateway/policy/engine.ts: opa-wasm, then the
 * contract check of gateway/policy/contract.ts), the record's `input` is evaluated at its `path`
 * entrypoint, and the canonical JSON (RFC 8785, as the log writes it) of `{allow, reasons,
 * obligations}` is compared with the record's `result`; for `decided_by: "policy"` the record's
 * `reasons` are compared too. (A `decided_by: "gateway"` record with a result is a policy allow
 * the gateway refused afterwards, e.g. `resource.row_fields_missing`: its `result` is replayed,
 * its `reasons` are the gateway's.)
 *
 * Not replayed, and said so: records refused before the policy ran (`not applicable`), records
 * whose input had values erased or masked before writing (`skipped (erased)`: the policy saw more than the
 * log holds), records whose input was truncated (`skipped (input truncated)`), and policy errors
 * (no result was recorded). Replay reads the records as they are;
 * it does not check the chain: `verify` is the integrity check.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from './canonical-json.ts';
import { createPolicyEngine, type PolicyEngine } from '../gateway/policy/engine.ts';
import { isRefusal, reasonsOf } from '../gateway/errors.ts';
import { readTrail } from './trail.ts';

/** `--from` / `--to`: a seq (per instance) or a point in time (compared with `timestamp`). */
export type Bound = { readonly seq: number } | { readonly time: number; readonly text: string };

/** A bound from its command-line spelling: digits are a seq, anything else an ISO 8601 time. */
export function parseBound(s: string): Bound | undefined {
  if (/^\d+$/.test(s)) return { seq: Number(s) };
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return undefined;
  const time = Date.parse(s);
  return Number.isNaN(time) ? undefined : { time, text: s };
}

export type ReplayOptions = {
  readonly from?: Bound;
  readonly to?: Bound;
  /** Wasm memory for the engines (the gateway's defaults: policy.memoryInitialPages / MaximumPages). */
  readonly memoryInitialPages?: number;
  readonly memoryMaximumPages?: number;
};

export type Mismatch = {
  readonly decision_id: string;
  readonly instance: string;
  readonly segment: string;
  readonly line: number;
  readonly seq: number | undefined;
  /** Short differences, `where: expected …, got …`. */
  readonly diff: readonly string[];
};

export type BundleUse = { readonly sha256: string; readonly revision?: string; records: number; problem?: string };

export type ReplayReport = {
  /** Lines read, and the records among them by kind. */
  read: number;
  kinds: Record<string, number>;
  /** Lines that are not JSON objects (torn or edited: run `verify`). */
  unreadable: number;
  /** Decision records outside --from/--to. */
  outOfRange: number;
  /** Refused before the policy ran. */
  notApplicable: number;
  replayed: number;
  matched: number;
  mismatches: Mismatch[];
  /** Not replayed, by reason. */
  skipped: Record<string, number>;
  /** Bundles by sha256: the records that named them, and why they could not be used, if so. */
  bundles: Map<string, BundleUse>;
};

/** Bundles that are missing or unusable (their records were not replayed). */
export function missingBundles(r: ReplayReport): BundleUse[] {
  return [...r.bundles.values()].filter((b) => b.problem !== undefined);
}

export const SKIP_ERASED = 'erased';
export const SKIP_TRUNCATED = 'input truncated';
export const SKIP_POLICY_ERROR = 'policy error, no result recorded';
export const SKIP_BUNDLE = 'bundle missing or unusable';
export const SKIP_MALFORMED = 'malformed decision record';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const canon = (v: unknown): string => canonicalJson(v) ?? 'undefined';

function inRange(rec: Record<string, unknown>, o: ReplayOptions): boolean {
  const check = (b: Bound | undefined, cmp: (a: number, b: number) => boolean): boolean => {
    if (b === undefined) return true;
    if ('seq' in b) return typeof rec.seq === 'number' && cmp(rec.seq, b.seq);
    const t = typeof rec.timestamp === 'string' ? Date.parse(rec.timestamp) : NaN;
    return !Number.isNaN(t) && cmp(t, b.time);
  };
  return check(o.from, (a, b) => a >= b) && check(o.to, (a, b) => a <= b);
}

/** Up to `max` differences between two JSON values, as `path: expected …, got …`. */
export function jsonDiff(expected: unknown, got: unknown, path: string, max = 4): string[] {
  const out: string[] = [];
  const short = (v: unknown): string => {
    const s = canon(v);
    return s.length > 160 ? `${s.slice(0, 157)}…` : s;
  };
  const walk = (a: unknown, b: unknown, at: string): void => {
    if (out.length >= max || canon(a) === canon(b)) return;
    if (isObj(a) && isObj(b)) {
      for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (!Object.hasOwn(b, k)) out.length < max && out.push(`${at}.${k}: expected ${short(a[k])}, got nothing`);
        else if (!Object.hasOwn(a, k)) out.length < max && out.push(`${at}.${k}: expected nothing, got ${short(b[k])}`);
        else walk(a[k], b[k], `${at}.${k}`);
      }
      return;
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      for (let i = 0; i < a.length; i++) walk(a[i], b[i], `${at}[${i}]`);
      return;
    }
    out.push(`${at}: expected ${short(a)}, got ${short(b)}`);
  };
  walk(expected, got, path);
  return out;
}

export async function replayLog(dir: string, o: ReplayOptions = {}): Promise<ReplayReport> {
  const report: ReplayReport = { read: 0, kinds: {}, unreadable: 0, outOfRange: 0, notApplicable: 0, replayed: 0, matched: 0, mismatches: [], skipped: {}, bundles: new Map() };
  const skip = (why: string) => (report.skipped[why] = (report.skipped[why] ?? 0) + 1);
  // One engine per (bundle, entrypoint); an engine that returned a refusal is rebuilt before its
  // next use (the gateway's engine replaces its Wasm instance asynchronously after an error).
  const engines = new Map<string, Promise<PolicyEngine | Error>>();
  const engineFor = (sha: string, entrypoint: string): Promise<PolicyEngine | Error> => {
    const key = `${sha}\n${entrypoint}`;
    let e = engines.get(key);
    if (!e) {
      e = loadEngine(join(dir, 'bundles', `${sha}.tar.gz`), sha, entrypoint, o);
      engines.set(key, e);
    }
    return e;
  };

  for await (const l of readTrail(dir)) {
    report.read++;
    const rec = l.record;
    if (!rec) {
      report.unreadable++;
      continue;
    }
    const kind = typeof rec.kind === 'string' ? rec.kind : '?';
    report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
    if (kind !== 'decision') continue;
    if (!inRange(rec, o)) {
      report.outOfRange++;
      continue;
    }
    const decidedBy = rec.decided_by;
    if (rec.result === null || rec.result === undefined) {
      if (decidedBy === 'policy') skip(SKIP_POLICY_ERROR);
      else report.notApplicable++;
      continue;
    }
    const sha = isObj(rec.provenance) && typeof rec.provenance.bundle_sha256 === 'string' && /^[0-9a-f]{64}$/.test(rec.provenance.bundle_sha256) ? rec.provenance.bundle_sha256 : undefined;
    if (sha === undefined || typeof rec.path !== 'string' || typeof rec.decision_id !== 'string') {
      skip(SKIP_MALFORMED);
      continue;
    }
    // Erased or masked (system.log.mask upsert) values: the policy saw more than the log holds.
    if ((Array.isArray(rec.erased) && rec.erased.length > 0) || (Array.isArray(rec.masked) && rec.masked.length > 0)) {
      skip(SKIP_ERASED);
      continue;
    }
    if (rec.input_truncated === true) {
      skip(SKIP_TRUNCATED);
      continue;
    }
    let use = report.bundles.get(sha);
    if (!use) report.bundles.set(sha, (use = { sha256: sha, records: 0 }));
    use.records++;
    const engine = await engineFor(sha, rec.path);
    if (engine instanceof Error) {
      use.problem = engine.message;
      skip(SKIP_BUNDLE);
      continue;
    }
    (use as { revision?: string }).revision = engine.revision;
    report.replayed++;
    const decision = engine.evaluate(rec.input);
    const where = { decision_id: rec.decision_id, instance: l.instance, segment: l.segment, line: l.line, seq: typeof rec.seq === 'number' ? rec.seq : undefined };
    if (isRefusal(decision)) {
      engines.delete(`${sha}\n${rec.path}`);
      const got = reasonsOf(decision)[0]!;
      report.mismatches.push({ ...where, diff: [`result: expected the recorded result, got ${got.code}: ${got.message}`] });
      continue;
    }
    const got = { allow: decision.allow, reasons: decision.reasons, obligations: decision.obligations };
    const diff: string[] = [];
    if (canon(rec.result) !== canon(got)) diff.push(...jsonDiff(rec.result, got, 'result'));
    if (decidedBy === 'policy' && canon(rec.reasons) !== canon(got.reasons)) diff.push(...jsonDiff(rec.reasons, got.reasons, 'reasons', 2));
    if (diff.length === 0) report.matched++;
    else report.mismatches.push({ ...where, diff });
  }
  return report;
}

async function loadEngine(path: string, sha: string, entrypoint: string, o: ReplayOptions): Promise<PolicyEngine | Error> {
  try {
    await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return new Error(code === 'ENOENT' ? `missing: ${path}` : `cannot read ${path} (${code ?? 'error'})`);
  }
  try {
    const engine = await createPolicyEngine({ bundlePath: path, entrypoint, memoryInitialPages: o.memoryInitialPages ?? 64, memoryMaximumPages: o.memoryMaximumPages ?? 4096 });
    if (engine.bundleSha256 !== sha) return new Error(`${path}: content has sha256 ${engine.bundleSha256}, not the one its name (and the records) give: the archived bundle was replaced`);
    return engine;
  } catch (err) {
    return new Error(`unusable: ${(err as Error).message}`);
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The report as the CLI prints it. */
export function formatReport(r: ReplayReport, dir: string): string[] {
  const out: string[] = [];
  const kinds = Object.entries(r.kinds)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  out.push(`replay ${dir}`);
  out.push(`  records read:    ${r.read}${kinds ? ` (${kinds})` : ''}${r.unreadable ? `, ${r.unreadable} unreadable lines (run verify)` : ''}`);
  if (r.outOfRange > 0) out.push(`  outside --from/--to: ${plural(r.outOfRange, 'decision')}`);
  out.push(`  replayed:        ${r.replayed}`);
  out.push(`  matched:         ${r.matched}`);
  out.push(`  mismatched:      ${r.mismatches.length}`);
  const skipped = Object.entries(r.skipped);
  out.push(`  skipped:         ${skipped.reduce((s, [, n]) => s + n, 0)}${skipped.length ? ` (${skipped.map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`);
  out.push(`  not applicable:  ${r.notApplicable} (refused before the policy ran)`);
  const missing = missingBundles(r);
  out.push(`  missing bundles: ${missing.length}`);
  for (const b of [...r.bundles.values()].filter((b) => b.problem === undefined)) out.push(`  bundle ${b.sha256} (revision ${b.revision ?? '?'}): ${plural(b.records, 'decision')}`);
  for (const b of missing) out.push(`MISSING bundle ${b.sha256}: ${plural(b.records, 'decision')} not replayed; ${b.problem}`);
  for (const m of r.mismatches) {
    out.push(`MISMATCH decision ${m.decision_id} seq ${m.seq ?? '?'} ${m.instance}/${m.segment} line ${m.line}`);
    for (const d of m.diff) out.push(`  ${d}`);
  }
  const ok = r.mismatches.length === 0 && missing.length === 0;
  out.push(ok ? `ok: ${r.matched} of ${r.replayed} replayed decisions match byte for byte` : `FAIL: ${plural(r.mismatches.length, 'mismatch', 'mismatches')}, ${plural(missing.length, 'missing bundle')}`);
  out.push('(replay re-evaluates the records as they are; `npm run audit -- verify` is the integrity check of the trail)');
  return out;
}

export const REPLAY_USAGE = `usage: npm run audit -- replay <log dir | instance dir> [--from <seq | ISO time>] [--to <seq | ISO time>]`;

/** `replay <dir> [--from …] [--to …]`: 0 when every replayed decision matched and no bundle is missing, 1 otherwise, 2 on usage or I/O errors. */
export async function replayCommand(args: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let dir: string | undefined;
  const o: { from?: Bound; to?: Bound } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--from' || a === '--to') {
      const v = args[++i];
      const b = v === undefined ? undefined : parseBound(v);
      if (b === undefined) {
        err(`${a} needs a seq (digits) or an ISO 8601 time, e.g. 2026-11-25T15:00:00Z\n${REPLAY_USAGE}`);
        return 2;
      }
      o[a === '--from' ? 'from' : 'to'] = b;
    } else if (dir === undefined && !a.startsWith('--')) {
      dir = a;
    } else {
      err(`unexpected argument "${a}"\n${REPLAY_USAGE}`);
      return 2;
    }
  }
  if (dir === undefined) {
    err(REPLAY_USAGE);
    return 2;
  }
  let report: ReplayReport;
  try {
    report = await replayLog(dir, o);
  } catch (e) {
    err(`replay: ${(e as Error).message}`);
    return 2;
  }
  for (const l of formatReport(report, dir)) out(l);
  return report.mismatches.length === 0 && missingBundles(report).length === 0 ? 0 : 1;
}
