/**
 * SQL over the audit trail with DuckDB (`npm run audit -- query <dir> "<SQL>"`): an in-memory
 * database whose views read the segment files in place (`read_json` over a glob of
 * `<dir>/*\/segment-*.jsonl`, or `<dir>/segment-*.jsonl` for one instance folder). Nothing is
 * copied or written. The views are documented in docs/audit-queries.md:
 *
 *   records       every line (decision, outcome, recovery), the nested parts as JSON
 *   decisions     one row per decision record, the input's subject/request/resource flattened
 *   denials       one row per reason of each refused decision
 *   outcomes      one row per outcome record
 *   records_seen  one row per decision × object type × record id the client received
 *   fields_seen   one row per decision × object type × field delivered with its stored value
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parseSegmentName } from './chain.ts';

export type QueryFormat = 'table' | 'csv' | 'json';
export const QUERY_FORMATS: readonly QueryFormat[] = ['table', 'csv', 'json'];

/** A JSON value as the query result holds it (BIGINT as a number when exact, JSON columns parsed). */
export type Cell = null | boolean | number | string | Cell[] | { [k: string]: Cell };

export type QueryResult = {
  readonly columns: readonly string[];
  /** DuckDB's type of each column, e.g. `VARCHAR`, `TIMESTAMP`, `VARCHAR[]`. */
  readonly types: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
};

/** The SQL the auditor wrote was refused by DuckDB (parse, bind or run time): exit 1. */
export class QueryError extends Error {
  override readonly name = 'QueryError';
}

/** The trail could not be opened (no such folder, no segment file): exit 2. */
export class TrailError extends Error {
  override readonly name = 'TrailError';
}

/** Single-quoted SQL string literal. */
const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * The glob of the segment files under `dir`: `dir` is a log folder (instance folders under it)
 * or one instance folder (segments directly in it).
 */
export async function segmentGlob(dir: string): Promise<string> {
  const abs = resolve(dir);
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (e) {
    throw new TrailError(`cannot read ${dir}: ${(e as Error).message}`);
  }
  if (names.some((n) => parseSegmentName(n) !== undefined)) return join(abs, 'segment-*.jsonl');
  for (const n of names) {
    let inner: string[];
    try {
      inner = await readdir(join(abs, n));
    } catch {
      continue; // a file, e.g. nothing to do with the trail
    }
    if (inner.some((m) => parseSegmentName(m) !== undefined)) return join(abs, '*', 'segment-*.jsonl');
  }
  throw new TrailError(`no segment files under ${dir} (expected ${join(dir, '<instance>', 'segment-*.jsonl')})`);
}

/** Every key a record version 1 can have, with its DuckDB type; absent keys read as NULL. */
const COLUMNS: Readonly<Record<string, string>> = {
  kind: 'VARCHAR',
  v: 'INTEGER',
  seq: 'BIGINT',
  prev: 'VARCHAR',
  decision_id: 'VARCHAR',
  timestamp: 'VARCHAR',
  labels: 'JSON',
  // decision
  path: 'VARCHAR',
  bundles: 'JSON',
  decided_by: 'VARCHAR',
  input: 'JSON',
  result: 'JSON',
  allow: 'BOOLEAN',
  reasons: 'JSON',
  status: 'INTEGER',
  answered: 'VARCHAR',
  erased: 'JSON',
  masked: 'JSON',
  input_truncated: 'BOOLEAN',
  provenance: 'JSON',
  // outcome
  upstream: 'JSON',
  reason: 'VARCHAR',
  filter: 'JSON',
  error_body: 'JSON',
  // recovery
  segment: 'VARCHAR',
  truncated_bytes: 'BIGINT',
  truncated_sha256: 'VARCHAR',
  last_seq: 'BIGINT',
};

/** The CREATE VIEW statements over the segment files matched by `glob`. */
export function viewSql(glob: string): string[] {
  const columns = `{${Object.entries(COLUMNS).map(([k, t]) => `${k}: ${lit(t)}`).join(', ')}}`;
  return [
    `CREATE VIEW records AS
       SELECT regexp_extract(filename, '([^/\\\\]+)[/\\\\]segment-[0-9]+\\.jsonl$', 1) AS instance,
              kind, seq, CAST(timestamp AS TIMESTAMP) AS ts, decision_id, ${Object.keys(COLUMNS).filter((k) => !['kind', 'seq', 'decision_id'].includes(k)).join(', ')},
              filename AS file
       FROM read_json(${lit(glob)}, format = 'newline_delimited', filename = true, columns = ${columns})`,
    `CREATE VIEW decisions AS
       SELECT decision_id, ts, seq, instance,
              input->>'$.subject.id' AS subject,
              input->>'$.subject.tenant' AS tenant,
              input->>'$.subject.kind' AS subject_kind,
              input->>'$.subject.client_id' AS client_id,
              input->>'$.request.method' AS method,
              input->>'$.request.path' AS path,
              input->>'$.resource.object' AS object,
              input->>'$.resource.action' AS action,
              input->>'$.resource.id' AS record_id,
              allow, status, decided_by,
              CAST(coalesce(json_extract_string(reasons, '$[*].code'), []) AS VARCHAR[]) AS reasons,
              reasons->>'$[0].code' AS first_reason,
              bundles->>'$.policy.revision' AS policy_revision,
              provenance->>'$.bundle_sha256' AS bundle_sha256,
              answered,
              provenance->>'$.posture' AS posture,
              input, result
       FROM records WHERE kind = 'decision'`,
    `CREATE VIEW denials AS
       WITH r AS (
         SELECT decision_id, ts, instance, input, status, decided_by,
                unnest(from_json(reasons, '[{"code": "VARCHAR", "message": "VARCHAR"}]')) AS rs
         FROM records WHERE kind = 'decision' AND allow = false)
       SELECT decision_id, ts,
              input->>'$.subject.tenant' AS tenant,
              input->>'$.subject.id' AS subject,
              input->>'$.subject.client_id' AS client_id,
              input->>'$.resource.object' AS object,
              input->>'$.resource.action' AS action,
              rs.code AS reason, rs.message AS message, status, decided_by, instance
       FROM r`,
    `CREATE VIEW outcomes AS
       SELECT decision_id, ts, seq, instance,
              upstream->>'$.name' AS upstream,
              CAST(upstream->'$.status' AS INTEGER) AS upstream_status,
              status, reason,
              CAST(upstream->'$.latency_ms' AS DOUBLE) AS latency_ms,
              CAST(filter->'$.rows_in' AS BIGINT) AS rows_in,
              CAST(filter->'$.rows_out' AS BIGINT) AS rows_out,
              filter->'$.records' AS records,
              filter->'$.fields_delivered' AS fields_delivered,
              filter->'$.fields_masked' AS fields_masked,
              filter->'$.fields_removed' AS fields_removed,
              error_body
       FROM records WHERE kind = 'outcome'`,
    perObjectView('records_seen', 'records', 'record_id'),
    perObjectView('fields_seen', 'fields_delivered', 'field'),
  ];
}

/**
 * One row per outcome × object type × name in the outcome's `filter.<key>` map
 * (`{Object: [name, …]}`), with the decision's subject beside it.
 */
function perObjectView(view: string, key: string, column: string): string {
  return `CREATE VIEW ${view} AS
       WITH per_type AS (
         SELECT decision_id, instance, ts,
                unnest(map_entries(CAST(${key} AS MAP(VARCHAR, VARCHAR[])))) AS e
         FROM outcomes WHERE ${key} IS NOT NULL),
       per_name AS (
         SELECT decision_id, instance, ts, e.key AS object, unnest(e.value) AS ${column} FROM per_type)
       SELECT p.decision_id, p.ts, d.subject, d.tenant, d.subject_kind, d.client_id,
              p.object, p.${column}, d.method, d.path, d.action, d.policy_revision, p.instance
       FROM per_name p LEFT JOIN decisions d ON d.decision_id = p.decision_id AND d.instance = p.instance`;
}

/** An in-memory DuckDB with the trail's views; close it with `close()`. */
export async function openTrail(dir: string): Promise<{ connection: DuckDBConnection; close(): void }> {
  const glob = await segmentGlob(dir);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    // Timestamps in the trail are UTC; make now() and date_trunc agree with them.
    await connection.run(`SET TimeZone = 'UTC'`);
    for (const sql of viewSql(glob)) await connection.run(sql);
  } catch (e) {
    connection.closeSync();
    instance.closeSync();
    throw new TrailError(`cannot open the trail under ${dir}: ${(e as Error).message}`);
  }
  return {
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

const BIG = /^U?(BIG|HUGE)INT(\[\])*$/;

/** BIGINT values (DuckDB's JSON form is a string) as numbers when exact, in lists too. */
function bigints(v: Cell): Cell {
  if (Array.isArray(v)) return v.map(bigints);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  return v;
}

/** Run `sql` against the trail under `dir`. DuckDB's refusal of the SQL is a QueryError. */
export async function runQuery(dir: string, sql: string): Promise<QueryResult> {
  const trail = await openTrail(dir);
  try {
    let reader;
    try {
      reader = await trail.connection.runAndReadAll(sql);
    } catch (e) {
      throw new QueryError((e as Error).message);
    }
    const columns = reader.columnNames();
    const types = reader.columnTypes().map((t) => t.alias ?? t.toString()); // JSON is an alias of VARCHAR
    const rows = (reader.getRowsJson() as Cell[][]).map((row) =>
      row.map((v, i) => {
        if (v === null) return null;
        const type = types[i]!;
        if (BIG.test(type)) return bigints(v);
        if (type === 'JSON' && typeof v === 'string') return JSON.parse(v) as Cell;
        return v;
      }),
    );
    return { columns, types, rows };
  } finally {
    trail.close();
  }
}

// ---- output -----------------------------------------------------------------------------------

/** A cell as text: strings as they are, NULL as given, everything else as JSON. */
function text(v: Cell, nullText: string): string {
  if (v === null) return nullText;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const NUMERIC = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|DECIMAL.*|REAL)$/;

/** An aligned table: header, a rule, the rows (numbers right-aligned), then `(N rows)`. */
export function formatTable(r: QueryResult): string {
  const cells = r.rows.map((row) => row.map((v) => text(v, 'NULL').replace(/\r?\n/g, '\\n')));
  const width = r.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const right = r.types.map((t) => NUMERIC.test(t));
  const line = (vals: readonly string[], header: boolean): string =>
    vals
      .map((v, i) => (right[i] && !header ? v.padStart(width[i]!) : v.padEnd(width[i]!)))
      .join(' | ')
      .trimEnd();
  const out = [line(r.columns, true), width.map((w) => '-'.repeat(w)).join('-+-')];
  for (const row of cells) out.push(line(row, false));
  out.push(`(${r.rows.length} ${r.rows.length === 1 ? 'row' : 'rows'})`);
  return out.join('\n');
}

/** RFC 4180 CSV with a header line; NULL is an empty field, lists and structs JSON text. */
export function formatCsv(r: QueryResult): string {
  const field = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [r.columns, ...r.rows.map((row) => row.map((v) => text(v, '')))].map((vals) => vals.map(field).join(',')).join('\r\n');
}

/** A JSON array of row objects (column name → value). */
export function formatJson(r: QueryResult): string {
  return JSON.stringify(r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i] ?? null]))), null, 2);
}

export function formatResult(r: QueryResult, format: QueryFormat): string {
  return format === 'csv' ? formatCsv(r) : format === 'json' ? formatJson(r) : formatTable(r);
}

// ---- the `query` verb -------------------------------------------------------------------------

export const QUERY_USAGE = `usage: npm run audit -- query <log dir | instance dir> "<SQL>" [--format table|csv|json]

  query    runs SQL (DuckDB) over the segment files in place, with the views records,
           decisions, denials, outcomes, records_seen and fields_seen
           (docs/audit-queries.md). Exit 1 when DuckDB refuses the SQL.`;

/** `query <dir> <sql> [--format f]`: 0 ok, 1 the SQL failed, 2 usage or I/O errors. */
export async function queryCommand(args: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const positional: string[] = [];
  let format: QueryFormat = 'table';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--format' || a.startsWith('--format=')) {
      const f = a === '--format' ? args[++i] : a.slice('--format='.length);
      if (f === undefined || !(QUERY_FORMATS as readonly string[]).includes(f)) {
        err(`--format must be one of ${QUERY_FORMATS.join(', ')}\n${QUERY_USAGE}`);
        return 2;
      }
      format = f as QueryFormat;
    } else if (positional.length < 2 && !(a.startsWith('--') && positional.length === 0)) {
      positional.push(a);
    } else {
      err(`unexpected argument "${a}"\n${QUERY_USAGE}`);
      return 2;
    }
  }
  const [dir, sql] = positional;
  if (dir === undefined || sql === undefined || sql.trim() === '') {
    err(QUERY_USAGE);
    return 2;
  }
  try {
    out(formatResult(await runQuery(dir, sql), format));
    return 0;
  } catch (e) {
    if (e instanceof QueryError) {
      err(`query: ${e.message}`);
      return 1;
    }
    if (e instanceof TrailError) {
      err(`query: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
