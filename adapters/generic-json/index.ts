/**
 * The generic JSON adapter: configured routes (`/contacts`, `/contacts/:id`) over an in-house
 * JSON API. Each route names its object and where its records are in the response body
 * (`records`, a JSON Pointer to an array; '' for a top-level array; absent for a single-record
 * body) and optionally a count to recompute (`count`, e.g. '/total').
 *
 *   GET with :id → read, GET without → list, POST → create, PUT/PATCH → update, DELETE → delete
 *
 * Routes are tried in order; the first whose pattern and method match wins. Only the records
 * at the pointer are filtered: other parts of the body pass through, so a route must not point
 * past an API's side-loaded records (e.g. JSON:API `included`).
 */
import { isRefusal, refuse } from '../../gateway/errors.ts';
import { applyFieldRules, rulesFor } from '../../gateway/filter/fields.ts';
import { createReportBuilder } from '../../gateway/filter/report.ts';
import { compileRowCondition } from '../../gateway/filter/rows.ts';
import type { Action, CanonicalRequest, Obligations, Refusal, Resource } from '../../gateway/types.ts';
import { bodyFieldsFor, pickBodyFields } from '../shared/body-fields.ts';
import type { Adapter, AdapterFactory, FilterResult } from '../types.ts';
import { isScalar, reduceErrorBody } from '../shared/error-body.ts';
import { routeFor, validateOptions, type GenericJsonOptions, type Method, type Route } from './options.ts';
import { getAt, replaceAt } from './pointer.ts';

export const ADAPTER_NAME = 'generic-json';

/** Members of an error object that pass (scalar values only): RFC 9457, OAuth, and the usual names. */
export const ERROR_MEMBERS: ReadonlySet<string> = new Set([
  'type', 'title', 'status', 'detail', 'instance', // RFC 9457
  'error', 'error_description', 'error_uri', // RFC 6749
  'message', 'code', 'errorCode', 'error_code', 'reason', 'request_id', 'requestId', 'trace_id', 'traceId',
]);

/**
 * Create the generic JSON adapter. Throws an Error whose message starts with the offending
 * option key (e.g. `routes[1].pattern: must start with /`).
 */
export const createGenericJsonAdapter: AdapterFactory = (raw) => {
  const options = validateOptions(raw);
  const adapter: Adapter = {
    name: ADAPTER_NAME,
    resolve: (req, body) => resolve(options, req, body),
    filter: (body, resource, obligations) => filter(options, body, resource, obligations),
    // An in-house API documents no error shape here: an error keeps the scalar values of the
    // usual error members only (ERROR_MEMBERS). Any scalar would not do: a 409 that quotes the
    // existing record, flat, would pass whole.
    errorBody: (body) => reduceErrorBody(body, (key, value) => ERROR_MEMBERS.has(key) && isScalar(value)),
    currentRecordQuery: () => '',
  };
  return Object.freeze(adapter);
};

function match(route: Route, segments: readonly string[]): Record<string, string> | undefined {
  if (route.segments.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of route.segments.entries()) {
    const actual = segments[i] as string;
    if ('literal' in seg) {
      if (seg.literal !== actual) return undefined;
    } else {
      if (actual === '') return undefined;
      params[seg.param] = actual;
    }
  }
  return params;
}

function actionOf(method: Method, hasId: boolean): Action {
  switch (method) {
    case 'GET':
      return hasId ? 'read' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
    case 'PATCH':
      return 'update';
    case 'DELETE':
      return 'delete';
  }
}

/**
 * Query parameters through which web frameworks let a request claim another method (Rails,
 * Laravel, Symfony `_method`; Salesforce-style `_HttpMethod`; the override headers as parameters).
 * The policy judges the method the gateway saw, so a request carrying one is refused. Lower case.
 */
const METHOD_OVERRIDE_PARAMS: ReadonlySet<string> = new Set(['_method', '_httpmethod', 'x-http-method-override', 'x-http-method', 'x-method-override']);

/**
 * A parameter name as the upstream's framework may read it: lower case, `.` and space as `_` (PHP
 * turns `.method` into `_method`), without a `[…]` suffix.
 */
const asFrameworkReadsIt = (name: string): string => name.toLowerCase().replace(/[. ]/g, '_').replace(/\[.*$/, '');

function resolve(options: GenericJsonOptions, req: CanonicalRequest, body: unknown): Resource | Refusal {
  for (const name of req.query.keys()) {
    if (METHOD_OVERRIDE_PARAMS.has(asFrameworkReadsIt(name))) return refuse('GW_ERR_RES_BAD_QUERY', `query parameter ${JSON.stringify(name.slice(0, 64))} would override the method`);
  }
  // Laravel and Symfony also read `_method` from a JSON body.
  if (isObject(body)) {
    for (const key of Object.keys(body)) {
      if (METHOD_OVERRIDE_PARAMS.has(asFrameworkReadsIt(key))) return refuse('GW_ERR_REQ_BODY_INVALID', `body member ${JSON.stringify(key.slice(0, 64))} would override the method`);
    }
  }
  let pathMatched = false;
  for (const route of options.routes) {
    const params = match(route, req.segments);
    if (params === undefined) continue;
    pathMatched = true;
    if (!route.methods.has(req.method as Method)) continue;
    const action = actionOf(req.method as Method, route.hasId);
    const id = params['id'];
    const base = { adapter: ADAPTER_NAME, object: route.object, ...(id === undefined ? {} : { id }), action };
    if (action === 'create' || action === 'update') {
      const picked = pickBodyFields(body, bodyFieldsFor(options.bodyFields, route.object, false), false);
      if (isRefusal(picked)) return picked;
      return { ...base, body: picked, filtered: false };
    }
    return { ...base, filtered: action === 'read' || action === 'list' };
  }
  return pathMatched ? refuse('GW_ERR_RES_METHOD_NOT_ALLOWED') : refuse('GW_ERR_RES_UNKNOWN_ROUTE');
}

/** A JSON object as JSON.parse builds it (not an array, not a raw big number). */
function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) !== null;
}

function filter(options: GenericJsonOptions, body: unknown, resource: Resource, obligations: Obligations): FilterResult | Refusal {
  const report = createReportBuilder();
  if (!resource.filtered) return { body, report: report.build() };
  const route = routeFor(options.routes, resource.object, resource.action);
  if (route === undefined) return refuse('GW_ERR_INTERNAL_ERROR', `no ${resource.action} route for ${resource.object}`);
  const keep = compileRowCondition(obligations.rows);
  if (isRefusal(keep)) return keep;
  const rules = rulesFor(obligations.fields, resource.object);

  const filterOne = (r: Record<string, unknown>): Record<string, unknown> => {
    const applied = applyFieldRules(r, rules);
    report.fields(resource.object, applied.masked, applied.removed);
    const masked = new Set(applied.masked);
    report.delivered(resource.object, recordId(r), Object.keys(applied.record).filter((k) => !masked.has(k)));
    return applied.record;
  };

  if (route.records === undefined) {
    if (!isObject(body)) return refuse('GW_ERR_UPSTREAM_SHAPE', 'a record must be a JSON object');
    const kept = keep(body);
    report.row(kept);
    // Not found rather than forbidden: the caller must not learn that the record exists.
    if (!kept) return refuse('GW_ERR_RES_RECORD_HIDDEN');
    return { body: filterOne(body), report: report.build() };
  }

  const at = getAt(body, route.records);
  if (!at.found || !Array.isArray(at.value)) return refuse('GW_ERR_UPSTREAM_SHAPE', 'records is not an array');
  const kept: Record<string, unknown>[] = [];
  for (const r of at.value) {
    if (!isObject(r)) return refuse('GW_ERR_UPSTREAM_SHAPE', 'a record is not a JSON object');
    const ok = keep(r);
    report.row(ok);
    if (ok) kept.push(filterOne(r));
  }
  let out = replaceAt(body, route.records, kept);
  if (route.count !== undefined) {
    // The upstream's count would reveal hidden rows. It counts what this body keeps (for a
    // paged API: this page), and is left absent when the upstream sent none.
    const count = getAt(out, route.count);
    if (count.found) {
      if (typeof count.value !== 'number') return refuse('GW_ERR_UPSTREAM_SHAPE', 'count is not a number');
      out = replaceAt(out, route.count, kept.length);
    }
  }
  return { body: out, report: report.build() };
}

/** The record's id for the decision log: its `id` (or `Id`) field, a string or an integer. */
function recordId(r: Record<string, unknown>): string | undefined {
  for (const k of ['id', 'Id']) {
    const v = r[k];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  }
  return undefined;
}
