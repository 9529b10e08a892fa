/**
 * The demo CRM: a real HTTP server speaking a small subset of the Salesforce REST API under
 * `/services/data/vNN.N/`, over the synthetic dataset of crm-data.ts.
 *
 *   GET    query?q=SOQL                 → {totalSize, done: true, records: [...]}
 *   GET    sobjects/Obj/ID[?fields=a,b] → one record, or 404 NOT_FOUND
 *   POST   sobjects/Obj   (JSON)        → 201 {id, success: true, errors: []}
 *   PATCH  sobjects/Obj/ID (JSON)       → 204
 *   DELETE sobjects/Obj/ID              → 204
 *
 * It is the system *behind* the gateway: it authorizes nothing and returns every row it has, so
 * anything a caller must not see has to be removed by the gateway. Every request is recorded
 * (method, target as received, headers, body) so tests can assert what the gateway forwarded,
 * and that a refused request never arrived. node:http rather than fastify: the recorded target
 * must be the raw bytes on the wire, with no router normalizing them first.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DATASET,
  KEY_PREFIXES,
  OBJECT_FIELDS,
  SOBJECT_NAMES,
  caseSafeId,
  type CrmDataset,
  type CrmRecord,
  type SObjectName,
} from './crm-data.ts';
import { parseSoql, SoqlError, type SoqlCondition, type SoqlLiteral } from './soql.ts';

export type RecordedRequest = {
  readonly method: string;
  /** The request target exactly as received (path and query, not decoded). */
  readonly url: string;
  /** Lower-cased header names; repeated headers joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** The request body as text ('' when none). */
  readonly body: string;
};

export type DemoCrmOptions = {
  /** The records to serve (copied; never mutated). Default: the demo dataset. */
  readonly records?: CrmDataset;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  readonly bodyLimit?: number;
};

export type DemoCrm = {
  /** Base URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  readonly url: string;
  /** Every request received, in arrival order (a live view). */
  readonly requests: ReadonlyArray<RecordedRequest>;
  /** The server's current records, including the effect of writes. */
  readonly data: CrmDataset;
  close(): Promise<void>;
};

const API_PREFIX = /^\/services\/data\/v[0-9]{1,3}\.[0-9]$/;
const DEFAULT_BODY_LIMIT = 1024 * 1024; // 1 MiB
/** Where ids of created records start, far above the seeded ones. */
const FIRST_CREATED_INDEX = 900_000_000_000;

type SfError = { errorCode: string; message: string; fields?: string[] };
type Reply = { status: number; body?: unknown };

const sfError = (status: number, errorCode: string, message: string, fields?: string[]): Reply => ({
  status,
  body: [fields ? { errorCode, message, fields } : { errorCode, message }] satisfies SfError[],
});

/** Starts the demo CRM on 127.0.0.1 on an ephemeral port. */
export async function startDemoCrm(opts: DemoCrmOptions = {}): Promise<DemoCrm> {
  const source = opts.records ?? DATASET;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const data: Record<SObjectName, CrmRecord[]> = {
    Account: source.Account.map((r) => ({ ...r })),
    Contact: source.Contact.map((r) => ({ ...r })),
    Opportunity: source.Opportunity.map((r) => ({ ...r })),
    Quote: source.Quote.map((r) => ({ ...r })),
  };
  const requests: RecordedRequest[] = [];
  let created = 0;
  const nextId = (o: SObjectName): string => caseSafeId(KEY_PREFIXES[o] + String(FIRST_CREATED_INDEX + ++created).padStart(12, '0'));

  const handle = (method: string, target: string, body: string, contentType: string, version: string): Reply => {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const params = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
    const segments = path.split('/').filter((s, i) => i > 0 || s !== '');
    // segments: ['services', 'data', 'v60.0', ...rest]
    const base = '/' + segments.slice(0, 3).join('/');
    if (segments.length < 4 || !API_PREFIX.test(base)) return notFound();
    const rest = segments.slice(3).map(safeDecode);
    if (rest.some((s) => s === undefined)) return notFound();
    const [head, objectName, id, extra] = rest as string[];

    if ((head === 'query' || head === 'queryAll') && rest.length === 1) {
      if (method !== 'GET') return methodNotAllowed(method);
      return query(params.get('q'), version);
    }
    if (head !== 'sobjects' || objectName === undefined || extra !== undefined) return notFound();
    const object = toObject(objectName);
    if (object === undefined) return sfError(404, 'NOT_FOUND', `The requested resource does not exist`);

    if (id === undefined) {
      if (method !== 'POST') return methodNotAllowed(method);
      return create(object, body, contentType);
    }
    const index = data[object].findIndex((r) => r.Id === id || r.Id.slice(0, 15) === id);
    if (method === 'GET') {
      if (index === -1) return notFoundRecord(object, id);
      const fieldsParam = params.get('fields');
      const fields = fieldsParam === null ? 'ALL' : fieldsParam.split(',').map((f) => f.trim()).filter((f) => f !== '');
      return { status: 200, body: project(object, data[object][index]!, fields, version) };
    }
    if (method === 'PATCH') {
      if (index === -1) return notFoundRecord(object, id);
      const parsed = parseWrite(object, body, contentType);
      if ('status' in parsed) return parsed;
      data[object][index] = { ...data[object][index]!, ...parsed.values };
      return { status: 204 };
    }
    if (method === 'DELETE') {
      if (index === -1) return notFoundRecord(object, id);
      data[object].splice(index, 1);
      return { status: 204 };
    }
    return methodNotAllowed(method);
  };

  const query = (soql: string | null, version: string): Reply => {
    if (soql === null || soql.trim() === '') return sfError(400, 'MALFORMED_QUERY', 'A query string (q) is required');
    let parsed;
    try {
      parsed = parseSoql(soql);
    } catch (err) {
      if (err instanceof SoqlError) return sfError(400, 'MALFORMED_QUERY', err.message);
      throw err;
    }
    const object = toObject(parsed.object);
    if (object === undefined) {
      return sfError(400, 'INVALID_TYPE', `sObject type '${parsed.object}' is not supported.`);
    }
    let rows = data[object].filter((r) => parsed.where.every((c) => matches(object, r, c)));
    if (parsed.orderBy) {
      const field = canonicalField(object, parsed.orderBy.field);
      const dir = parsed.orderBy.direction === 'DESC' ? -1 : 1;
      if (field !== undefined) rows = [...rows].sort((a, b) => dir * compare(a[field] ?? null, b[field] ?? null));
    }
    const offset = parsed.offset ?? 0;
    rows = rows.slice(offset, parsed.limit === undefined ? undefined : offset + parsed.limit);
    const records = rows.map((r) => project(object, r, parsed.fields, version));
    return { status: 200, body: { totalSize: records.length, done: true, records } };
  };

  const create = (object: SObjectName, body: string, contentType: string): Reply => {
    const parsed = parseWrite(object, body, contentType);
    if ('status' in parsed) return parsed;
    const record: CrmRecord = { Id: nextId(object), ...parsed.values };
    data[object].push(record);
    return { status: 201, body: { id: record.Id, success: true, errors: [] } };
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > bodyLimit) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const target = req.url ?? '';
      const method = req.method ?? '';
      requests.push(Object.freeze({ method, url: target, headers: Object.freeze(flattenHeaders(req)), body }));
      let reply: Reply;
      try {
        const version = /^\/services\/data\/(v[0-9]{1,3}\.[0-9])\//.exec(target)?.[1] ?? 'v60.0';
        reply = tooLarge
          ? sfError(413, 'REQUEST_TOO_LARGE', `Request body exceeds ${bodyLimit} bytes`)
          : handle(method, target, body, req.headers['content-type'] ?? '', version);
      } catch (err) {
        reply = sfError(500, 'UNKNOWN_EXCEPTION', err instanceof Error ? err.message : String(err));
      }
      send(res, reply);
    });
    req.on('error', () => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    data,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status).end();
    return;
  }
  const text = JSON.stringify(reply.body);
  res
    .writeHead(reply.status, {
      'content-type': 'application/json;charset=UTF-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const notFound = (): Reply => sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
const notFoundRecord = (object: SObjectName, id: string): Reply =>
  sfError(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${id} (${object})`);
const methodNotAllowed = (method: string): Reply =>
  sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,DELETE,POST`);

/** Salesforce object and field names are case-insensitive. */
function toObject(name: string): SObjectName | undefined {
  return SOBJECT_NAMES.find((o) => o.toLowerCase() === name.toLowerCase());
}

function canonicalField(object: SObjectName, name: string): string | undefined {
  const lower = name.toLowerCase();
  return OBJECT_FIELDS[object].find((f) => f.toLowerCase() === lower);
}

/** The record with `attributes`, restricted to the named fields; unknown names are omitted. */
function project(object: SObjectName, r: CrmRecord, fields: readonly string[] | 'ALL', version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: { type: object, url: `/services/data/${version}/sobjects/${object}/${r.Id}` } };
  const names = fields === 'ALL' ? OBJECT_FIELDS[object] : fields.map((f) => canonicalField(object, f)).filter((f) => f !== undefined);
  for (const f of names) out[f] = r[f] ?? null;
  return out;
}

function compare(a: SoqlLiteral | string | number, b: SoqlLiteral | string | number): number {
  if (a === b) return 0;
  if (a === null) return -1; // nulls first, as Salesforce's default
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

function matches(object: SObjectName, r: CrmRecord, c: SoqlCondition): boolean {
  const field = canonicalField(object, c.field);
  const v = field === undefined ? null : (r[field] ?? null);
  const eq = (lit: SoqlLiteral): boolean =>
    lit === null || v === null ? lit === v : typeof v === 'number' ? v === Number(lit) : String(v).toLowerCase() === String(lit).toLowerCase();
  switch (c.op) {
    case '=':
      return eq(c.value);
    case '!=':
      return !eq(c.value);
    case 'IN':
      return c.value.some(eq);
    case 'NOT IN':
      return !c.value.some(eq);
    case '<':
      return v !== null && c.value !== null && compare(v, c.value) < 0;
    case '<=':
      return v !== null && c.value !== null && compare(v, c.value) <= 0;
    case '>':
      return v !== null && c.value !== null && compare(v, c.value) > 0;
    case '>=':
      return v !== null && c.value !== null && compare(v, c.value) >= 0;
  }
}

/** Validates a create/update body like Salesforce does: JSON object, known writable fields. */
function parseWrite(object: SObjectName, body: string, contentType: string): Reply | { values: Record<string, string | number | null> } {
  if (!/^application\/json\b/i.test(contentType)) {
    return sfError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content type '${contentType}' is not supported; use application/json`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return sfError(400, 'JSON_PARSER_ERROR', 'The request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return sfError(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object');
  }
  const values: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (k === 'attributes') continue;
    const field = canonicalField(object, k);
    if (field === undefined) return sfError(400, 'INVALID_FIELD', `No such column '${k}' on sobject of type ${object}`, [k]);
    if (field === 'Id') return sfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', 'Unable to create/update fields: Id', ['Id']);
    if (v !== null && typeof v !== 'string' && typeof v !== 'number') {
      return sfError(400, 'JSON_PARSER_ERROR', `Cannot deserialize value of field ${field}`, [field]);
    }
    values[field] = v;
  }
  return { values };
}

