/**
 * The response filter for Salesforce REST bodies: a query result
 * `{totalSize, done, nextRecordsUrl?, records: [{attributes: {type, url}, …fields}]}` or one
 * sObject record. Rows failing the row condition are dropped (top level and child subquery
 * results), field rules are applied per record by its `attributes.type`, parent relationship
 * objects get their own type's field rules, and every `totalSize` counts only what is kept.
 * The report lists, per object type, the ids and the unmasked fields of the records delivered.
 */
import { refuse, isRefusal } from '../../gateway/errors.ts';
import { applyFieldRules, rulesFor, type FieldRules } from '../../gateway/filter/fields.ts';
import { createReportBuilder, type ReportBuilder } from '../../gateway/filter/report.ts';
import { compileRowCondition, type RowPredicate } from '../../gateway/filter/rows.ts';
import type { Obligations, Refusal, Resource } from '../../gateway/types.ts';
import type { FilterResult } from '../types.ts';

type Json = Record<string, unknown>;
type Ctx = {
  readonly keep: RowPredicate;
  readonly fields: Obligations['fields'];
  readonly report: ReportBuilder;
  /** Field rules per record type, looked up once per response (undefined: none for the type). */
  readonly rules: Map<string, FieldRules | undefined>;
};

// Salesforce API names are case-insensitive: a rule for SSN__c must catch ssn__c too.
const MATCH = { ignoreCase: true } as const;

/** A JSON object as JSON.parse builds it (not an array, not a raw big number). */
function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) !== null;
}

const shape = (detail: string): Refusal => refuse('GW_ERR_UPSTREAM_SHAPE', detail);

/**
 * Filter a Salesforce response for `resource` (read: one record, list: a query result).
 * A read whose record fails the row condition is GW_ERR_RES_RECORD_HIDDEN (answered as not
 * found, so its existence is not revealed).
 */
export function filterSalesforce(body: unknown, resource: Resource, obligations: Obligations): FilterResult | Refusal {
  const report = createReportBuilder();
  if (!resource.filtered) return { body, report: report.build() };
  const keep = compileRowCondition(obligations.rows);
  if (isRefusal(keep)) return keep;
  const ctx: Ctx = { keep, fields: obligations.fields, report, rules: new Map() };

  if (resource.action === 'read') {
    if (!isObject(body)) return shape('a record must be a JSON object');
    const kept = keep(body);
    report.row(kept);
    if (!kept) return refuse('GW_ERR_RES_RECORD_HIDDEN');
    const rec = filterRecord(body, resource.object, ctx);
    return isRefusal(rec) ? rec : { body: rec, report: report.build() };
  }
  if (resource.action === 'list') {
    const out = filterQueryResult(body, resource.object, ctx, true);
    return isRefusal(out) ? out : { body: out, report: report.build() };
  }
  return shape(`no response filter for action ${resource.action}`);
}

/**
 * A query result, top level or a child relationship's. `totalSize` becomes the number of
 * records kept. When `done` is false the upstream's totalSize counts all pages; we can only
 * count this page's kept records, so the value is this page's count (never the upstream total,
 * which would reveal hidden rows); `done` and `nextRecordsUrl` are kept so the caller knows
 * more exists (following it is refused until query locators are supported, see resolve.ts).
 */
function filterQueryResult(body: unknown, fallbackType: string | undefined, ctx: Ctx, top: boolean): Json | Refusal {
  if (!isObject(body)) return shape('a query result must be a JSON object');
  const records = body['records'];
  if (!Array.isArray(records)) return shape('records is not an array');
  if (typeof body['totalSize'] !== 'number') return shape('totalSize is not a number');
  if (typeof body['done'] !== 'boolean') return shape('done is not a boolean');
  const kept: Json[] = [];
  for (const r of records) {
    if (!isObject(r)) return shape('a record is not a JSON object');
    // Validate the record's shape before the row test, so a malformed row is an error, not a drop.
    const type = recordType(r, fallbackType);
    if (isRefusal(type)) return type;
    const ok = ctx.keep(r);
    if (top) ctx.report.row(ok);
    if (!ok) continue;
    const f = filterRecord(r, fallbackType, ctx);
    if (isRefusal(f)) return f;
    kept.push(f);
  }
  // Keep the upstream's key order; only records and totalSize change.
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [k, k === 'records' ? kept : k === 'totalSize' ? kept.length : v]),
  );
}

/** attributes.type, or the fallback when the record has no attributes at all. */
function recordType(r: Json, fallback: string | undefined): string | Refusal {
  if (!Object.hasOwn(r, 'attributes')) {
    return fallback ?? shape('a nested record has no attributes.type');
  }
  const a = r['attributes'];
  if (!isObject(a) || typeof a['type'] !== 'string' || a['type'] === '') return shape('attributes.type is not a string');
  return a['type'];
}

/**
 * Field rules for one record by its type, then recursion into its values: child relationship
 * results (row condition applied, fail closed) and parent relationship records (field rules
 * only). Other nested objects (compound fields such as MailingAddress) are values.
 */
function filterRecord(r: Json, fallbackType: string | undefined, ctx: Ctx): Json | Refusal {
  const type = recordType(r, fallbackType);
  if (isRefusal(type)) return type;
  let rules = ctx.rules.get(type);
  if (rules === undefined && !ctx.rules.has(type)) ctx.rules.set(type, (rules = rulesFor(ctx.fields, type, MATCH)));
  // No rule for this type (the common case): the parsed record is ours, it is used as it is.
  const applied = rules === undefined ? { record: r, masked: NONE, removed: NONE } : applyFieldRules(r, rules, MATCH);
  ctx.report.fields(type, applied.masked, applied.removed);
  const maskedLower = applied.masked.length === 0 ? undefined : new Set(applied.masked.map((n) => n.toLowerCase()));
  const src = applied.record;
  const delivered: string[] = [];
  // Relationship values that filtering replaced; the record is copied only when there are any.
  let replaced: Map<string, Json> | undefined;
  for (const k of Object.keys(src)) {
    const v = src[k];
    if (k === 'attributes' || !isObject(v)) {
      if (k !== 'attributes' && !maskedLower?.has(k.toLowerCase())) delivered.push(k);
    } else if (Object.hasOwn(v, 'records')) {
      // Child records carry their own type; with no attributes we cannot pick their rules.
      const child = filterQueryResult(v, undefined, ctx, false);
      if (isRefusal(child)) return child;
      (replaced ??= new Map()).set(k, child);
    } else if (Object.hasOwn(v, 'attributes')) {
      const parent = filterRecord(v, undefined, ctx);
      if (isRefusal(parent)) return parent;
      (replaced ??= new Map()).set(k, parent);
    } else if (!maskedLower?.has(k.toLowerCase())) {
      delivered.push(k);
    }
  }
  ctx.report.delivered(type, recordId(r), delivered);
  if (replaced === undefined) return src;
  // fromEntries defines own properties, so a key such as "__proto__" stays data.
  return Object.fromEntries(Object.keys(src).map((k) => [k, replaced.has(k) ? replaced.get(k) : src[k]]));
}

const NONE: readonly string[] = Object.freeze([]);

/** The record's id: its `Id` field, else the last segment of `attributes.url`. */
function recordId(r: Json): string | undefined {
  if (typeof r['Id'] === 'string' && r['Id'] !== '') return r['Id'];
  const a = r['attributes'];
  if (!isObject(a) || typeof a['url'] !== 'string') return undefined;
  const last = a['url'].slice(a['url'].lastIndexOf('/') + 1);
  return last === '' ? undefined : last;
}
