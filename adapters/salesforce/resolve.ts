/**
 * Salesforce REST routes → Resource. Only the routes below are known; anything else is refused
 * (GW_ERR_RES_UNKNOWN_ROUTE), never passed through unfiltered.
 *
 * Salesforce object names are case-insensitive: a spelling that matches one of the configured
 * canonical object names in another case (`contact`) is resolved to the canonical name
 * (`Contact`), so the policy's exact catalog keys apply. Other names are passed on as written
 * (the policy denies objects it does not know).
 *
 *   GET    /services/data/vNN.N/query?q=SOQL         list
 *   GET    /services/data/vNN.N/sobjects/{Object}/{id}[?fields=a,b]   read
 *   POST   /services/data/vNN.N/sobjects/{Object}    create
 *   PATCH  /services/data/vNN.N/sobjects/{Object}/{id}   update
 *   DELETE /services/data/vNN.N/sobjects/{Object}/{id}   delete
 */
import { isRefusal, refuse } from '../../gateway/errors.ts';
import type { CanonicalRequest, Refusal, Resource } from '../../gateway/types.ts';
import { bodyFieldsFor, pickBodyFields, type BodyFieldsOption } from '../shared/body-fields.ts';
import { LRUCache } from 'lru-cache';
import { filterFields, isApiName, parseSoql, selectedFields } from './soql.ts';

export const ADAPTER_NAME = 'salesforce';

const VERSION = /^v\d+\.\d$/;
const RECORD_ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;

/** Lower-cased object name → canonical API name. */
export type ObjectNames = ReadonlyMap<string, string>;

/** The canonical name of `object` when it is a known object in another case, else `object`. */
export function canonicalObject(objects: ObjectNames, object: string): string {
  return objects.get(object.toLowerCase()) ?? object;
}

/** What a SOQL text resolves to, before the object name is made canonical. */
type QueryMeaning = { readonly object: string; readonly fields: readonly string[] | undefined; readonly filters: readonly string[] } | { readonly why: string };

/** SOQL text → its meaning (or why it is refused). Pure, so the adapter may cache it. */
export type SoqlReader = (q: string) => QueryMeaning;

export function readSoql(q: string): QueryMeaning {
  const parsed = parseSoql(q);
  if (!parsed.ok) return { why: parsed.why };
  // WHERE / ORDER BY fields: whether and in which order rows come back reveals their values.
  return { object: parsed.query.object, fields: selectedFields(parsed.query), filters: filterFields(parsed.query) };
}

/** Texts longer than this are parsed every time: the cache holds only the short, repeated ones. */
const CACHED_SOQL_CHARS = 4096;

/**
 * `readSoql` behind a bounded LRU: clients and automations repeat the same queries, and parsing
 * is a tokenizer plus a recursive parser per request. Results are frozen and copied on use.
 */
export function cachedSoqlReader(max: number): SoqlReader {
  const cache = new LRUCache<string, QueryMeaning>({ max });
  return (q) => {
    if (q.length > CACHED_SOQL_CHARS) return readSoql(q);
    let m = cache.get(q);
    if (m === undefined) {
      m = Object.freeze(readSoql(q));
      cache.set(q, m);
    }
    return m;
  };
}

/**
 * Refuses query parameters a route does not take. Salesforce acts on some the policy would not
 * see: `_HttpMethod` makes a POST a GET, PATCH or DELETE ("POST /sobjects/Contact?_HttpMethod=GET"
 * would be judged a create and answered with the recent records, unfiltered).
 */
function onlyParams(req: CanonicalRequest, allowed: readonly string[]): Refusal | undefined {
  for (const name of req.query.keys()) {
    if (!allowed.includes(name)) return refuse('GW_ERR_RES_BAD_QUERY', `query parameter ${JSON.stringify(name.slice(0, 64))} is not supported on this route`);
  }
  return undefined;
}

/** Resolve a canonical request to a Salesforce resource. */
export function resolveSalesforce(
  req: CanonicalRequest,
  body: unknown,
  bodyFields: BodyFieldsOption,
  objects: ObjectNames = new Map(),
  soql: SoqlReader = readSoql,
): Resource | Refusal {
  const [s0, s1, version, kind, ...rest] = req.segments;
  if (s0 !== 'services' || s1 !== 'data' || version === undefined || !VERSION.test(version)) {
    return refuse('GW_ERR_RES_UNKNOWN_ROUTE', 'not a /services/data/vNN.N/ path');
  }
  if (kind === 'query') return resolveQuery(req, rest, objects, soql);
  if (kind === 'sobjects') return resolveSobject(req, rest, body, bodyFields, objects);
  return refuse('GW_ERR_RES_UNKNOWN_ROUTE');
}

function resolveQuery(req: CanonicalRequest, rest: readonly string[], objects: ObjectNames, soql: SoqlReader): Resource | Refusal {
  if (rest.length > 0) {
    // A query locator (/query/01g…-2000, the nextRecordsUrl of a paged result) names no object:
    // the object and fields are only known from the first page's SOQL, so the policy could not
    // judge it. Refused until locators are remembered (or signed) by the gateway.
    return refuse('GW_ERR_RES_UNKNOWN_ROUTE', 'query locators are not supported');
  }
  if (req.method !== 'GET') return refuse('GW_ERR_RES_METHOD_NOT_ALLOWED');
  const extra = onlyParams(req, ['q']);
  if (extra) return extra;
  // Several q parameters: we and Salesforce might read different ones.
  const qs = req.query.getAll('q');
  if (qs.length !== 1 || (qs[0] ?? '').trim() === '') return refuse('GW_ERR_RES_BAD_QUERY', 'exactly one non-empty q parameter is required');
  const m = soql(qs[0] as string);
  if ('why' in m) return refuse('GW_ERR_RES_BAD_QUERY', m.why);
  return {
    adapter: ADAPTER_NAME,
    object: canonicalObject(objects, m.object),
    action: 'list',
    ...(m.fields === undefined ? {} : { fields: [...m.fields] }),
    ...(m.filters.length === 0 ? {} : { filterFields: [...m.filters] }),
    filtered: true,
  };
}

function resolveSobject(req: CanonicalRequest, rest: readonly string[], body: unknown, bodyFields: BodyFieldsOption, objects: ObjectNames): Resource | Refusal {
  const [written, id, ...more] = rest;
  if (written === undefined || !isApiName(written) || more.length > 0) return refuse('GW_ERR_RES_UNKNOWN_ROUTE');
  const object = canonicalObject(objects, written);
  // A record read takes `fields`; writes take no parameter at all.
  const extra = onlyParams(req, req.method === 'GET' ? ['fields'] : []);
  if (extra) return extra;
  if (id === undefined) {
    // GET here is the describe-basic call with recentItems (records): not supported.
    if (req.method !== 'POST') return refuse('GW_ERR_RES_METHOD_NOT_ALLOWED');
    return write(object, undefined, 'create', body, bodyFields);
  }
  // describe, updated, deleted, listviews… and external-id paths are not record ids.
  if (!RECORD_ID.test(id)) return refuse('GW_ERR_RES_UNKNOWN_ROUTE');
  switch (req.method) {
    case 'GET': {
      const fields = fieldsParam(req);
      if (isRefusal(fields)) return fields;
      return { adapter: ADAPTER_NAME, object, id, action: 'read', ...(fields === undefined ? {} : { fields }), filtered: true };
    }
    case 'PATCH':
      return write(object, id, 'update', body, bodyFields);
    case 'DELETE':
      return { adapter: ADAPTER_NAME, object, id, action: 'delete', filtered: false };
    default:
      return refuse('GW_ERR_RES_METHOD_NOT_ALLOWED');
  }
}

/** `?fields=a,b` of a record read; absent → undefined (all fields). */
function fieldsParam(req: CanonicalRequest): string[] | undefined | Refusal {
  const all = req.query.getAll('fields');
  if (all.length === 0) return undefined;
  if (all.length > 1) return refuse('GW_ERR_RES_BAD_QUERY', 'more than one fields parameter');
  const names = (all[0] as string).split(',').map((s) => s.trim());
  const bad = names.find((n) => !isApiName(n));
  if (bad !== undefined) return refuse('GW_ERR_RES_BAD_QUERY', `invalid field name ${JSON.stringify(bad)}`);
  return names;
}

function write(object: string, id: string | undefined, action: 'create' | 'update', body: unknown, bodyFields: BodyFieldsOption): Resource | Refusal {
  const picked = pickBodyFields(body, bodyFieldsFor(bodyFields, object, true), true);
  if (isRefusal(picked)) return picked;
  return { adapter: ADAPTER_NAME, object, ...(id === undefined ? {} : { id }), action, body: picked, filtered: false };
}
