/**
 * Options of the generic JSON adapter, validated once at creation and frozen. Errors start with
 * the offending key (`routes[1].pattern: must start with /`).
 */
import { validateBodyFields, type BodyFieldsOption } from '../shared/body-fields.ts';
import { parsePointer } from './pointer.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One pattern segment: a literal to match exactly, or a named parameter. */
export type Segment = { readonly literal: string } | { readonly param: string };

export type Route = {
  readonly pattern: string;
  readonly segments: readonly Segment[];
  /** Whether the pattern has `:id` (GET is then a read, else a list). */
  readonly hasId: boolean;
  readonly object: string;
  readonly methods: ReadonlySet<Method>;
  /** Pointer tokens of the record array; undefined for a single-record body. */
  readonly records?: readonly string[];
  /** Pointer tokens of a count to recompute. */
  readonly count?: readonly string[];
};

export type GenericJsonOptions = {
  readonly routes: readonly Route[];
  readonly bodyFields: BodyFieldsOption;
};

const METHODS: ReadonlySet<string> = new Set<Method>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const ROUTE_KEYS: ReadonlySet<string> = new Set(['pattern', 'object', 'methods', 'records', 'count']);
const TOP_KEYS: ReadonlySet<string> = new Set(['routes', 'bodyFields']);
// Literals are compared with decoded segments; unreserved characters keep that unambiguous.
const LITERAL = /^[A-Za-z0-9._~-]+$/;
const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/;

/** Validate raw options; throws an Error naming the offending key. */
export function validateOptions(raw: Readonly<Record<string, unknown>>): GenericJsonOptions {
  for (const key of Object.keys(raw)) if (!TOP_KEYS.has(key)) throw new Error(`${key}: unknown option`);
  const routes = raw['routes'];
  if (!Array.isArray(routes) || routes.length === 0) throw new Error('routes: must be a non-empty array');
  const validated = routes.map((r, i) => validateRoute(r, `routes[${i}]`));
  checkConsistentShapes(validated);
  const bodyFields = raw['bodyFields'] === undefined ? Object.freeze({}) : validateBodyFields(raw['bodyFields'], 'bodyFields');
  return Object.freeze({ routes: Object.freeze(validated), bodyFields });
}

function validateRoute(r: unknown, at: string): Route {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new Error(`${at}: must be an object`);
  const o = r as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!ROUTE_KEYS.has(key)) throw new Error(`${at}.${key}: unknown option`);

  const pattern = o['pattern'];
  if (typeof pattern !== 'string') throw new Error(`${at}.pattern: must be a string`);
  if (!pattern.startsWith('/')) throw new Error(`${at}.pattern: must start with /`);
  const params = new Set<string>();
  const segments: Segment[] = pattern.slice(1).split('/').map((s) => {
    const m = PARAM.exec(s);
    if (m) {
      const name = m[1] as string;
      if (params.has(name)) throw new Error(`${at}.pattern: parameter :${name} appears twice`);
      params.add(name);
      return { param: name };
    }
    if (!LITERAL.test(s)) throw new Error(`${at}.pattern: segment ${JSON.stringify(s)} must be :name or unreserved characters`);
    return { literal: s };
  });

  const object = o['object'];
  if (typeof object !== 'string' || object === '') throw new Error(`${at}.object: must be a non-empty string`);

  const hasId = params.has('id');
  let methods: ReadonlySet<Method>;
  if (o['methods'] === undefined) {
    methods = new Set<Method>(hasId ? ['GET', 'PUT', 'PATCH', 'DELETE'] : ['GET', 'POST']);
  } else {
    const m = o['methods'];
    if (!Array.isArray(m) || m.length === 0) throw new Error(`${at}.methods: must be a non-empty array`);
    for (const x of m) if (typeof x !== 'string' || !METHODS.has(x)) throw new Error(`${at}.methods: ${JSON.stringify(x)} is not one of GET, POST, PUT, PATCH, DELETE`);
    methods = new Set(m as Method[]);
  }

  const records = pointerOption(o['records'], `${at}.records`);
  const count = pointerOption(o['count'], `${at}.count`);
  if (count !== undefined && records === undefined) throw new Error(`${at}.count: needs records (a count belongs to a record list)`);
  if (count !== undefined && count.length === 0) throw new Error(`${at}.count: must not be the whole document`);

  return Object.freeze({
    pattern,
    segments: Object.freeze(segments),
    hasId,
    object,
    methods,
    ...(records === undefined ? {} : { records: Object.freeze(records) }),
    ...(count === undefined ? {} : { count: Object.freeze(count) }),
  });
}

function pointerOption(v: unknown, at: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`${at}: must be a JSON Pointer string`);
  const tokens = parsePointer(v);
  if (tokens === undefined) throw new Error(`${at}: must be a JSON Pointer ('' or starting with /)`);
  return tokens;
}

/**
 * filter() only gets the Resource (object and action), not the matched route, so the routes a
 * Resource can come from must agree on the body shape: same object and same kind (record read
 * vs list) → same records and count pointers.
 */
function checkConsistentShapes(routes: readonly Route[]): void {
  const seen = new Map<string, { at: number; shape: string }>();
  routes.forEach((r, i) => {
    if (!r.methods.has('GET')) return;
    const key = `${r.object}\u0000${r.hasId}`;
    const shape = JSON.stringify([r.records ?? null, r.count ?? null]);
    const prev = seen.get(key);
    if (prev === undefined) seen.set(key, { at: i, shape });
    else if (prev.shape !== shape) {
      throw new Error(`routes[${i}].records: must match routes[${prev.at}] (same object and kind need the same body shape)`);
    }
  });
}

/** The route that produced a resource of this object and action (see checkConsistentShapes). */
export function routeFor(routes: readonly Route[], object: string, action: string): Route | undefined {
  const hasId = action === 'read';
  return routes.find((r) => r.object === object && r.hasId === hasId && r.methods.has('GET'));
}
