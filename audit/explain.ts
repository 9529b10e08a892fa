/**
 * `explain <dir> <decision_id>`: the decision record and its outcome record in words a reviewer
 * understands: who asked, from which device, for what, when, under which policy revision, what
 * was decided and why (each reason code with its message and its meaning, audit/reason-text.ts),
 * the Rego rules that gave each policy reason (from the archived bundle that decided, see
 * audit/rule-index.ts), the obligations the gateway applied (row condition and field rules), and
 * what happened upstream. `--json` prints the two records as they are in the log.
 */
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ERRORS } from '../gateway/errors.ts';
import { readBundle } from '../gateway/policy/bundle.ts';
import { indexReasonRules, rulesFor, type RuleIndex } from './rule-index.ts';
import { reasonMeaning } from './reason-text.ts';
import { readTrail } from './trail.ts';

export type Located = { readonly record: Record<string, unknown>; readonly instance: string; readonly segment: string; readonly line: number };

export type Found = { decision?: Located; outcome?: Located };

/** The decision and outcome records of one decision id (the whole trail is read). */
export async function findDecision(dir: string, decisionId: string): Promise<Found> {
  const found: Found = {};
  for await (const l of readTrail(dir)) {
    const r = l.record;
    if (!r || r.decision_id !== decisionId) continue;
    const at: Located = { record: r, instance: l.instance, segment: l.segment, line: l.line };
    if (r.kind === 'decision') found.decision ??= at;
    else if (r.kind === 'outcome') found.outcome ??= at;
  }
  return found;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Record<string, unknown> => (isObj(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : []);
const lit = (v: unknown): string => (v === null ? 'null' : JSON.stringify(v) ?? 'undefined');

const FIELD_OPS: Readonly<Record<string, string>> = { eq: '=', ne: '!=', lt: '<', lte: '<=', gt: '>', gte: '>=', in: 'IN', nin: 'NOT IN' };

/**
 * A ucast row condition in SQL-like words: `Tenant__c = "acme" AND Region__c IN ("EU")`.
 * Nested compounds are parenthesized.
 */
export function renderCondition(c: unknown, nested = false): string {
  if (!isObj(c)) return lit(c);
  if (c.type === 'field') {
    const op = FIELD_OPS[String(c.operator)] ?? String(c.operator);
    const value = Array.isArray(c.value) ? `(${c.value.map(lit).join(', ')})` : lit(c.value);
    return `${String(c.field)} ${op} ${value}`;
  }
  if (c.type === 'compound' && Array.isArray(c.value)) {
    if (c.operator === 'not') return `NOT (${renderCondition(c.value[0])})`;
    const joined = c.value.map((x) => renderCondition(x, true)).join(c.operator === 'or' ? ' OR ' : ' AND ');
    return nested && c.value.length > 1 ? `(${joined})` : joined;
  }
  return lit(c);
}

/** `Contact: SSN__c removed, Email masked as "***"` per object. */
export function renderFieldRules(fields: unknown): string[] {
  const out: string[] = [];
  for (const [object, rules] of Object.entries(obj(fields)).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parts = Object.entries(obj(rules))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([field, rule]) => {
        const r = obj(rule);
        if ('remove' in r) return `${field} removed`;
        if (isObj(r.replace)) return `${field} masked as ${lit(r.replace.value)}`;
        return `${field} ${lit(rule)}`;
      });
    out.push(`${object}: ${parts.join(', ') || 'no rule'}`);
  }
  return out;
}

function perObject(v: unknown): string {
  const parts = Object.entries(obj(v))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([o, fs]) => `${o}.${list(fs).join(`, ${o}.`)}`);
  return parts.length ? parts.join(', ') : 'none';
}

function kv(v: unknown): string {
  return Object.entries(obj(v))
    .map(([k, x]) => `${k} = ${lit(x)}`)
    .join(', ');
}

const STAGE_WORDS: Readonly<Record<string, string>> = {
  canonicalize: 'request canonicalization (before authentication)',
  authenticate: 'authentication',
  resolve: 'resource resolution (body checks, reading the stored record)',
  gateway: 'the gateway',
  policy: 'the policy',
};

/** The explanation, one line per entry. */
/**
 * The rules of the bundle that decided, when it is archived under the log: `rules`, or `missing`
 * saying why they cannot be named.
 */
export type PolicySource = { readonly rules: RuleIndex } | { readonly missing: string };

/** Index the archived bundle `<log dir>/bundles/<sha256>.tar.gz` (dir: the log or an instance folder). */
export async function loadPolicySource(dir: string, sha256: string | undefined): Promise<PolicySource> {
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return { missing: 'the record names no bundle' };
  for (const root of [dir, dirname(dir)]) {
    const path = join(root, 'bundles', `${sha256}.tar.gz`);
    try {
      await access(path);
    } catch {
      continue;
    }
    try {
      const bundle = await readBundle(path);
      if (bundle.sha256 !== sha256) return { missing: `${path} does not hash to its name (the archived bundle was replaced)` };
      if (bundle.sources.size === 0) return { missing: `${path} holds no Rego source` };
      return { rules: indexReasonRules(bundle.sources) };
    } catch (e) {
      return { missing: `${path}: ${(e as Error).message}` };
    }
  }
  return { missing: `bundles/${sha256}.tar.gz is not archived beside the log` };
}

export function explainLines(d: Located, o?: Located, source?: PolicySource): string[] {
  const r = d.record;
  const input = obj(r.input);
  const subject = obj(input.subject);
  const device = input.device;
  const req = obj(input.request);
  const res = obj(input.resource);
  const env = obj(input.env);
  const prov = obj(r.provenance);
  const labels = obj(r.labels);
  const out: string[] = [];
  const line = (label: string, text: string) => out.push(`${label.padEnd(12)}${text}`);
  const more = (text: string) => out.push(`${' '.repeat(12)}${text}`);

  out.push(`Decision ${String(r.decision_id)}  (${d.instance}/${d.segment} line ${d.line}${typeof r.seq === 'number' ? `, seq ${r.seq}` : ''})`);
  out.push('');

  // When
  line('When', `${String(r.timestamp)}${str(env.now) && env.now !== r.timestamp ? ` (policy clock ${String(env.now)})` : ''}`);
  more(`gateway instance ${String(labels.instance_id ?? '?')}, version ${String(prov.gateway_version ?? labels.version ?? '?')}, region ${String(labels.gateway_region ?? env.gateway_region ?? '?')}`);

  // Who
  if (Object.keys(subject).length > 0) {
    const kind = str(subject.kind) ?? 'subject';
    line('Who', `${kind} ${String(subject.id)} of tenant ${lit(subject.tenant)}${str(subject.client_id) ? `, through client ${String(subject.client_id)}` : ''}`);
    more(`roles: ${list(subject.roles).join(', ') || 'none'} · scopes: ${list(subject.scopes).join(' ') || 'none'}`);
    more(`clearance: ${String(subject.clearance ?? 'none')} · regions: ${list(subject.regions).join(', ') || 'none'}`);
    if (str(subject.issuer)) more(`token issuer: ${String(subject.issuer)}`);
  } else {
    line('Who', 'not known: the request was refused before its token was accepted');
  }

  // Device
  const note = str(prov.posture);
  if (isObj(device)) {
    const words = `${device.managed === true ? 'managed' : 'unmanaged'}, ${device.compliant === true ? 'compliant' : 'not compliant'}${str(device.platform) ? `, ${String(device.platform)}` : ''}`;
    line('Device', `${words}${note ? ` (posture assertion: ${note})` : ''}`);
  } else if (device !== undefined || note !== undefined) {
    line('Device', `unknown${note ? ` (posture assertion: ${note})` : ''}`);
  } else {
    line('Device', 'not known: the request was refused before its posture was checked');
  }

  // What
  const target = str(req.path) !== undefined ? `${String(req.method)} ${String(req.path)}` : `${String(req.method ?? '?')} ${String(req.raw_target ?? '?')} (raw target, not accepted)`;
  line('What', target + (str(req.upstream) ? ` (upstream ${String(req.upstream)})` : ''));
  for (const [k, vs] of Object.entries(obj(req.query))) more(`query ${k} = ${list(vs).map((v) => lit(v)).join(', ')}`);
  if (str(res.action) || str(res.object)) {
    more(`${String(res.action ?? '?')} ${String(res.object ?? '?')}${res.id !== undefined ? ` record ${String(res.id)}` : ''}${str(res.adapter) ? ` (adapter ${String(res.adapter)})` : ''}`);
  }
  if (res.fields !== undefined) more(`fields: ${list(res.fields).join(', ') || 'none'}`);
  else if (str(res.action)) more('fields: not named by the request');
  if (res.filter_fields !== undefined) more(`filter/sort fields: ${list(res.filter_fields).join(', ')}`);
  if (res.body !== undefined) more(`body fields: ${kv(res.body) || 'none'}`);
  if (res.current !== undefined) more(`stored record: ${kv(res.current) || 'not found'}`);
  const erased = list(r.erased);
  if (erased.length > 0) more(`erased from the log before writing: ${erased.join(', ')}`);
  const masked = list(r.masked);
  if (masked.length > 0) more(`masked in the log before writing (system.log.mask): ${masked.join(', ')}`);
  if (r.input_truncated === true) {
    const stub = obj(r.input);
    more(`input truncated before writing: ${String(stub.bytes)} bytes of canonical JSON, sha256 ${String(stub.sha256)}`);
  }

  // Policy
  const decidedBy = String(r.decided_by);
  const revision = str(obj(obj(r.bundles).policy).revision);
  const ran = decidedBy === 'policy' || (r.result !== null && r.result !== undefined);
  line('Policy', ran ? `${String(r.path)} of bundle revision ${revision ?? '?'}` : `not evaluated (the bundle loaded at the time: revision ${revision ?? '?'})`);
  more(`bundle file sha256 ${String(prov.bundle_sha256 ?? '?')} (archived as bundles/<sha256>.tar.gz)`);

  // Decision
  const status = typeof r.status === 'number' ? r.status : undefined;
  if (r.allow === true) line('Decision', 'ALLOWED by the policy');
  else if (decidedBy === 'policy') line('Decision', `REFUSED by the policy${status !== undefined ? `, answered ${status}` : ''}`);
  else line('Decision', `REFUSED by ${STAGE_WORDS[decidedBy] ?? decidedBy}${r.result !== null && r.result !== undefined ? ' after the policy allowed it' : ', before the policy ran'}${status !== undefined ? `, answered ${status}` : ''}`);
  const reasons = Array.isArray(r.reasons) ? r.reasons : [];
  // Policy reasons come from Rego rules; the gateway's own refusals (auth.*, request.*) do not.
  const fromPolicy = decidedBy === 'policy';
  if (fromPolicy && source && 'missing' in source && reasons.length > 0) more(`(the rules cannot be named: ${source.missing})`);
  for (const reason of reasons) {
    const x = obj(reason);
    more(`${String(x.code)}: ${String(x.message)}`);
    const meaning = reasonMeaning(String(x.code));
    more(`  means: ${meaning ?? 'an unknown code (not in docs/reason-codes.md or docs/policies.md)'}`);
    if (!fromPolicy || !source || !('rules' in source)) continue;
    const sites = rulesFor(source.rules, String(x.code), str(x.message));
    if (sites.length === 0) more('  rule: no rule of this bundle names this code');
    for (const site of sites) {
      more(`  ${sites.length > 1 ? 'one of the rules' : 'rule'} ${site.file}:${site.line}${site.comment.length > 0 ? ` (${site.comment.join(' ')})` : ''}`);
      for (const t of site.text) more(`      ${t.replace(/\t/g, '  ')}`);
    }
  }
  const answered = str(r.answered);
  if (answered) {
    const title = Object.values(ERRORS).find((e) => e.reason === answered)?.title;
    const why = answered === 'resource.not_found' ? ', so that it does not learn that the record exists' : '';
    more(`the client was told ${answered}${title ? ` ("${title}")` : ''} instead${why}; the real reasons are the ones above`);
  }

  // Obligations
  const ob = obj(obj(r.result).obligations);
  if (r.allow === true || Object.keys(ob).length > 0) {
    line('Obligations', ob.rows !== undefined ? `rows kept only where ${renderCondition(ob.rows)}` : 'no row condition');
    if (r.allow !== true) more('(what the policy asked for; not applied, the request was refused)');
    const rules = renderFieldRules(ob.fields);
    if (rules.length === 0) more('no field rule');
    for (const x of rules) more(x);
  }

  // Outcome
  if (o) {
    const or = o.record;
    const up = obj(or.upstream);
    line('Outcome', `${String(or.timestamp)}: upstream ${String(up.name)} answered ${up.status === 0 ? 'nothing (no response)' : String(up.status)} in ${String(up.latency_ms)} ms; the client got ${String(or.status)}`);
    if (str(or.reason)) more(`the gateway refused the response: ${String(or.reason)}: ${reasonMeaning(String(or.reason)) ?? ''}`);
    if (isObj(or.filter)) {
      const f = or.filter;
      more(`rows: ${String(f.rows_in)} in, ${String(f.rows_out)} out`);
      more(`fields removed: ${perObject(f.fields_removed)}`);
      more(`fields masked: ${perObject(f.fields_masked)}`);
      if (f.fields_delivered !== undefined) more(`fields delivered: ${perObject(f.fields_delivered)}`);
      if (f.records !== undefined) more(`records returned: ${perObject(f.records)}`);
    }
    if (isObj(or.error_body)) {
      // An upstream error answer, reduced to its error members (adapter errorBody).
      const e = or.error_body;
      const dropped = list(e.dropped);
      const total = typeof e.dropped_total === 'number' ? e.dropped_total : dropped.length;
      more(`upstream error body: ${total === 0 ? 'nothing dropped' : `dropped ${dropped.join(', ')}${total > dropped.length ? ` and ${total - dropped.length} more` : ''}`}`);
      if (list(e.rewritten).length > 0) more(`rewritten (record ids taken out): ${list(e.rewritten).join(', ')}`);
    }
    more(`(${o.instance}/${o.segment} line ${o.line}${typeof or.seq === 'number' ? `, seq ${or.seq}` : ''})`);
  } else if (r.allow === true) {
    line('Outcome', 'no outcome record: the gateway stopped (or its log failed) before the upstream answered');
  } else {
    line('Outcome', 'none: a refused request is not forwarded');
  }
  return out;
}

export const EXPLAIN_USAGE = `usage: npm run audit -- explain <log dir | instance dir> <decision id> [--json]`;

/** `explain <dir> <decision_id> [--json]`: 0 when the decision was found, 1 when not, 2 on usage or I/O errors. */
export async function explainCommand(args: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const json = args.includes('--json');
  const pos = args.filter((a) => a !== '--json');
  const bad = pos.find((a) => a.startsWith('--'));
  if (bad !== undefined || pos.length !== 2) {
    err(bad !== undefined ? `unexpected argument "${bad}"\n${EXPLAIN_USAGE}` : EXPLAIN_USAGE);
    return 2;
  }
  const [dir, id] = pos as [string, string];
  let found: Found;
  try {
    found = await findDecision(dir, id);
  } catch (e) {
    err(`explain: ${(e as Error).message}`);
    return 2;
  }
  if (!found.decision) {
    err(found.outcome ? `explain: ${id} has an outcome record but no decision record (run verify)` : `explain: no decision ${id} under ${dir}`);
    return 1;
  }
  if (json) {
    out(JSON.stringify({ decision: found.decision.record, outcome: found.outcome?.record ?? null }, null, 2));
    return 0;
  }
  const sha = str(obj(found.decision.record.provenance).bundle_sha256);
  const source = await loadPolicySource(dir, sha);
  for (const l of explainLines(found.decision, found.outcome, source)) out(l);
  return 0;
}
