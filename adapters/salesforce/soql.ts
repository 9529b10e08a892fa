/**
 * Just enough SOQL to tell the policy which object and fields a query reads, and which fields it
 * filters or sorts on:
 *
 *   SELECT item, … FROM Object [USING SCOPE s] [WHERE cond] [WITH SECURITY_ENFORCED|USER_MODE|SYSTEM_MODE]
 *          [ORDER BY expr [ASC|DESC] [NULLS FIRST|LAST], …] [LIMIT n] [OFFSET n]
 *          [FOR VIEW|REFERENCE] [UPDATE TRACKING|VIEWSTAT] [FOR UPDATE]
 *   item := Field | Parent.Field | FIELDS(ALL|STANDARD|CUSTOM) | (SELECT item, … FROM ChildRelationship [clauses…])
 *   cond := cond AND cond | cond OR cond | NOT cond | ( cond )
 *         | expr (= | != | <> | < | <= | > | >= | LIKE) value
 *         | expr [NOT] IN ( value, … ) | expr INCLUDES|EXCLUDES ( value, … )
 *   expr := Field | Parent.Field | fn( expr | literal, … )     fn: date functions, convertTimezone,
 *                                                              convertCurrency, toLabel, DISTANCE, GEOLOCATION
 *
 * The WHERE and ORDER BY clauses are parsed, not skipped: whether a row comes back, and in which
 * order, reveals the values of the fields they name, so the policy must see those fields
 * (`filterFields`). Anything the grammar above does not cover is refused rather than guessed at,
 * in particular semi-join and anti-join subqueries (`Id IN (SELECT … FROM OtherObject …)`), which
 * would let a query probe another object that the policy never sees.
 *
 * Also refused (fail closed, because the response would no longer be keyed by the object's own
 * field names and types, so field rules could not find them): aggregate and other functions in
 * the select list (`COUNT()`, `MAX(SSN__c) m`, `toLabel(…)`), aliases, `TYPEOF`, `GROUP BY` /
 * `HAVING` (AggregateResult rows), and an alias on the FROM object.
 */

/** One query level: the object (or child relationship) and what it selects. */
export type SoqlSelect = {
  /** Object API name at the top level, child relationship name in a subquery. */
  readonly object: string;
  /** Plain and dotted (parent relationship) field names as written. */
  readonly fields: readonly string[];
  /** True when FIELDS(…) was selected: the field list is then unknown. */
  readonly allFields: boolean;
  /** Fields named in this level's WHERE and ORDER BY clauses (plain and dotted, as written). */
  readonly filterFields: readonly string[];
  /** Child relationship subqueries. */
  readonly children: readonly SoqlSelect[];
};

export type SoqlParse = { readonly ok: true; readonly query: SoqlSelect } | { readonly ok: false; readonly why: string };

type Token = { readonly kind: 'word' | 'string' | 'op' | '(' | ')' | ','; readonly text: string };

const SEGMENT = '[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*';
/** A Salesforce API name: optional namespace prefix, name, optional suffix (__c, __r, __mdt…). */
const API_NAME = new RegExp(`^(?:${SEGMENT}__)?${SEGMENT}(?:__[A-Za-z]+)?$`);
const MAX_NAME = 80;

/** Whether `s` is a valid Salesforce object or field API name (no dots). */
export function isApiName(s: string): boolean {
  return s.length <= MAX_NAME && API_NAME.test(s);
}

/** Whether `s` is a field path: API names joined by dots (parent relationships). */
export function isFieldPath(s: string): boolean {
  return s.split('.').every(isApiName);
}

const REFUSED_CLAUSES: ReadonlySet<string> = new Set(['GROUP', 'HAVING']);
const FIELDS_ARGS: ReadonlySet<string> = new Set(['ALL', 'STANDARD', 'CUSTOM']);

/** Parse a SOQL query string. Never throws. */
export function parseSoql(q: string): SoqlParse {
  const tokens = tokenize(q);
  if (typeof tokens === 'string') return { ok: false, why: tokens };
  const parsed = parseSelect(tokens, 0, false);
  if (typeof parsed === 'string') return { ok: false, why: parsed };
  if (parsed.next !== tokens.length) return { ok: false, why: 'unexpected text after the query' };
  return { ok: true, query: parsed.select };
}

/**
 * The field names a query reads, for `Resource.fields`: top-level fields as written and
 * child subquery fields prefixed with their relationship (`Contacts.Email`). Undefined when
 * any level uses FIELDS(…), since the list is then unknown and the policy must assume all.
 */
export function selectedFields(s: SoqlSelect, prefix = ''): string[] | undefined {
  if (s.allFields) return undefined;
  const out = s.fields.map((f) => prefix + f);
  for (const child of s.children) {
    const sub = selectedFields(child, `${prefix}${child.object}.`);
    if (sub === undefined) return undefined;
    out.push(...sub);
  }
  return out;
}

/**
 * The fields a query filters or sorts on, for `Resource.filterFields`: every level's WHERE and
 * ORDER BY fields, child subquery fields prefixed with their relationship (`Contacts.Email`),
 * without duplicates, in order of appearance.
 */
export function filterFields(s: SoqlSelect, prefix = ''): string[] {
  const out = new Set(s.filterFields.map((f) => prefix + f));
  for (const child of s.children) for (const f of filterFields(child, `${prefix}${child.object}.`)) out.add(f);
  return [...out];
}

function tokenize(q: string): Token[] | string {
  const out: Token[] = [];
  const re = /\s+|'(?:[^'\\]|\\.)*'|[(),]|[A-Za-z0-9_.:+-]+|[=!<>]+/y;
  let i = 0;
  while (i < q.length) {
    re.lastIndex = i;
    const m = re.exec(q);
    if (m === null) {
      return q[i] === "'" ? 'unterminated string literal' : `unexpected character ${JSON.stringify(q[i])} at ${i}`;
    }
    const t = m[0];
    i += t.length;
    if (/^\s/.test(t)) continue;
    if (t === '(' || t === ')' || t === ',') out.push({ kind: t, text: t });
    else if (t.startsWith("'")) out.push({ kind: 'string', text: t });
    else if (/^[=!<>]/.test(t)) out.push({ kind: 'op', text: t });
    else out.push({ kind: 'word', text: t });
  }
  return out;
}

const isWord = (t: Token | undefined, upper: string): boolean => t?.kind === 'word' && t.text.toUpperCase() === upper;

/** Parse `SELECT … FROM X [clauses]` from `start`; a subquery stops before its closing ')'. */
function parseSelect(ts: readonly Token[], start: number, nested: boolean): { select: SoqlSelect; next: number } | string {
  if (!isWord(ts[start], 'SELECT')) return 'expected SELECT';
  let i = start + 1;
  const fields: string[] = [];
  const children: SoqlSelect[] = [];
  let allFields = false;
  for (;;) {
    const t = ts[i];
    if (t === undefined) return 'expected FROM';
    if (t.kind === '(') {
      const sub = parseSelect(ts, i + 1, true);
      if (typeof sub === 'string') return sub;
      children.push(sub.select);
      i = sub.next + 1; // past ')'
    } else if (t.kind === 'word' && ts[i + 1]?.kind === '(') {
      const fn = t.text.toUpperCase();
      const arg = ts[i + 2];
      if (fn !== 'FIELDS' || arg?.kind !== 'word' || !FIELDS_ARGS.has(arg.text.toUpperCase()) || ts[i + 3]?.kind !== ')') {
        return `unsupported select item ${t.text}(…)`;
      }
      allFields = true;
      i += 4;
    } else if (t.kind === 'word' && t.text.toUpperCase() !== 'FROM') {
      if (t.text.toUpperCase() === 'TYPEOF') return 'unsupported select item TYPEOF';
      if (!isFieldPath(t.text)) return `invalid field name ${JSON.stringify(t.text)}`;
      fields.push(t.text);
      i += 1;
    } else {
      return fields.length + children.length === 0 && !allFields ? 'empty select list' : `unexpected ${JSON.stringify(t.text)} in select list`;
    }
    const sep = ts[i];
    if (sep?.kind === ',') {
      i += 1;
      continue;
    }
    if (isWord(sep, 'FROM')) break;
    // e.g. an alias: `MAX(x) m`, `Name n`
    return sep === undefined ? 'expected FROM' : `unexpected ${JSON.stringify(sep.text)} in select list`;
  }
  const objectToken = ts[i + 1];
  if (objectToken?.kind !== 'word' || !isApiName(objectToken.text)) return 'expected an object name after FROM';
  i += 2;
  const tail = parseClauses(ts, i, nested, objectToken.text);
  if (typeof tail === 'string') return tail;
  return { select: { object: objectToken.text, fields, allFields, filterFields: tail.filterFields, children }, next: tail.next };
}

// --- the clauses after FROM ---------------------------------------------------------------------

/** Clause order as SOQL requires it; each clause may appear once. */
const CLAUSE_ORDER = ['USING', 'WHERE', 'WITH', 'ORDER', 'LIMIT', 'OFFSET', 'FOR VIEW', 'UPDATE', 'FOR UPDATE'] as const;
const WITH_ARGS: ReadonlySet<string> = new Set(['SECURITY_ENFORCED', 'USER_MODE', 'SYSTEM_MODE']);
const UPDATE_ARGS: ReadonlySet<string> = new Set(['TRACKING', 'VIEWSTAT']);
const COMPARISON: ReadonlySet<string> = new Set(['=', '!=', '<>', '<', '<=', '>', '>=']);
/** Functions allowed around a field in WHERE / ORDER BY; their field arguments are filter fields. */
const FILTER_FUNCTIONS: ReadonlySet<string> = new Set([
  'CALENDAR_MONTH', 'CALENDAR_QUARTER', 'CALENDAR_YEAR', 'DAY_IN_MONTH', 'DAY_IN_WEEK', 'DAY_IN_YEAR', 'DAY_ONLY',
  'FISCAL_MONTH', 'FISCAL_QUARTER', 'FISCAL_YEAR', 'HOUR_IN_DAY', 'WEEK_IN_MONTH', 'WEEK_IN_YEAR',
  'CONVERTTIMEZONE', 'CONVERTCURRENCY', 'TOLABEL', 'DISTANCE', 'GEOLOCATION',
]);
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$/;
const DATE_LITERAL =
  /^(?:YESTERDAY|TODAY|TOMORROW|(?:LAST|THIS|NEXT)_(?:WEEK|MONTH|QUARTER|YEAR|FISCAL_QUARTER|FISCAL_YEAR)|(?:LAST|NEXT)_90_DAYS|(?:LAST|NEXT)_N_(?:DAYS|WEEKS|MONTHS|QUARTERS|YEARS|FISCAL_QUARTERS|FISCAL_YEARS):\d+|N_(?:DAYS|WEEKS|MONTHS|QUARTERS|YEARS|FISCAL_QUARTERS|FISCAL_YEARS)_AGO:\d+)$/i;
const CURRENCY = /^[A-Z]{3}-?\d+(?:\.\d+)?$/i;
const KEYWORD_VALUES: ReadonlySet<string> = new Set(['NULL', 'TRUE', 'FALSE']);

/** A token cursor over one query level; `fields` collects the filter fields. */
type Cursor = { readonly ts: readonly Token[]; i: number; depth: number; readonly fields: string[] };

/** Nesting limit for NOT, parentheses and function calls (the parser is recursive). */
const MAX_DEPTH = 32;

const upper = (t: Token | undefined): string => (t?.kind === 'word' ? t.text.toUpperCase() : '');
const shown = (t: Token | undefined): string => (t === undefined ? 'end of query' : JSON.stringify(t.text));

/** Parse the clauses after `FROM object` up to the end (top level) or the closing ')' (subquery). */
function parseClauses(ts: readonly Token[], start: number, nested: boolean, object: string): { filterFields: string[]; next: number } | string {
  const c: Cursor = { ts, i: start, depth: 0, fields: [] };
  let stage = -1;
  for (;;) {
    const t = ts[c.i];
    if (t === undefined) return nested ? 'unterminated subquery' : { filterFields: c.fields, next: c.i };
    if (t.kind === ')') return nested ? { filterFields: c.fields, next: c.i } : 'unbalanced )';
    const kw = upper(t);
    if (REFUSED_CLAUSES.has(kw)) return `${kw} is not supported`;
    const clause = kw === 'FOR' ? (upper(ts[c.i + 1]) === 'UPDATE' ? 'FOR UPDATE' : 'FOR VIEW') : kw;
    const at = (CLAUSE_ORDER as readonly string[]).indexOf(clause);
    if (at < 0) return `unexpected ${shown(t)} after FROM ${object}`;
    if (at <= stage) return `${clause} is out of place`;
    stage = at;
    c.i += 1;
    const err = parseClause(c, clause);
    if (err !== undefined) return err;
  }
}

function parseClause(c: Cursor, clause: string): string | undefined {
  const t = c.ts[c.i];
  switch (clause) {
    case 'USING': {
      const scope = c.ts[c.i + 1];
      if (upper(t) !== 'SCOPE' || scope?.kind !== 'word' || !/^[A-Za-z_]+$/.test(scope.text)) return 'expected USING SCOPE scope';
      c.i += 2;
      return undefined;
    }
    case 'WHERE':
      return parseOr(c);
    case 'WITH':
      if (!WITH_ARGS.has(upper(t))) return `WITH ${t === undefined ? '' : t.text} is not supported`.trimEnd();
      c.i += 1;
      return undefined;
    case 'ORDER':
      if (upper(t) !== 'BY') return 'expected ORDER BY';
      c.i += 1;
      return parseOrderBy(c);
    case 'LIMIT':
    case 'OFFSET':
      if (t?.kind !== 'word' || !/^\d+$/.test(t.text)) return `${clause} needs a number`;
      c.i += 1;
      return undefined;
    case 'FOR VIEW': // FOR VIEW | FOR REFERENCE
      if (upper(t) !== 'VIEW' && upper(t) !== 'REFERENCE') return `unexpected ${shown(t)} after FOR`;
      c.i += 1;
      return undefined;
    case 'FOR UPDATE':
      c.i += 1; // UPDATE
      return undefined;
    case 'UPDATE':
      if (!UPDATE_ARGS.has(upper(t))) return `unexpected ${shown(t)} after UPDATE`;
      c.i += 1;
      return undefined;
    default:
      return `unexpected ${clause}`;
  }
}

/** cond OR cond … */
function parseOr(c: Cursor): string | undefined {
  for (;;) {
    const err = parseAnd(c);
    if (err !== undefined) return err;
    if (upper(c.ts[c.i]) !== 'OR') return undefined;
    c.i += 1;
  }
}

/** cond AND cond … */
function parseAnd(c: Cursor): string | undefined {
  for (;;) {
    const err = parseNot(c);
    if (err !== undefined) return err;
    if (upper(c.ts[c.i]) !== 'AND') return undefined;
    c.i += 1;
  }
}

/** NOT cond | ( cond ) | comparison */
function parseNot(c: Cursor): string | undefined {
  if (++c.depth > MAX_DEPTH) return 'WHERE is nested too deeply';
  const err = parseNotInner(c);
  c.depth--;
  return err;
}

function parseNotInner(c: Cursor): string | undefined {
  const t = c.ts[c.i];
  if (upper(t) === 'NOT') {
    c.i += 1;
    return parseNot(c);
  }
  if (t?.kind === '(') {
    if (upper(c.ts[c.i + 1]) === 'SELECT') return 'subqueries in WHERE are not supported';
    c.i += 1;
    const err = parseOr(c);
    if (err !== undefined) return err;
    if (c.ts[c.i]?.kind !== ')') return c.ts[c.i] === undefined ? 'unbalanced ( in WHERE' : `unexpected ${shown(c.ts[c.i])} in WHERE`;
    c.i += 1;
    return undefined;
  }
  return parseComparison(c);
}

/** expr op value | expr [NOT] IN (…) | expr INCLUDES|EXCLUDES (…) */
function parseComparison(c: Cursor): string | undefined {
  const err = parseExpr(c, 'WHERE');
  if (err !== undefined) return err;
  const t = c.ts[c.i];
  if (t?.kind === 'op') {
    if (!COMPARISON.has(t.text)) return `unsupported operator ${JSON.stringify(t.text)}`;
    c.i += 1;
    return parseValue(c);
  }
  const kw = upper(t);
  if (kw === 'LIKE') {
    c.i += 1;
    return parseValue(c);
  }
  if (kw === 'NOT' && upper(c.ts[c.i + 1]) === 'IN') {
    c.i += 1;
    return parseList(c);
  }
  if (kw === 'IN' || kw === 'INCLUDES' || kw === 'EXCLUDES') return parseList(c);
  return `expected an operator in WHERE, not ${shown(t)}`;
}

/** `IN|INCLUDES|EXCLUDES ( value, … )` from the keyword; a subquery here is a semi/anti-join. */
function parseList(c: Cursor): string | undefined {
  c.i += 1; // the keyword
  if (c.ts[c.i]?.kind !== '(') return `expected ( after IN, not ${shown(c.ts[c.i])}`;
  c.i += 1;
  if (upper(c.ts[c.i]) === 'SELECT') return 'semi-join and anti-join subqueries (IN (SELECT …)) are not supported';
  for (;;) {
    const err = parseValue(c);
    if (err !== undefined) return err;
    const sep = c.ts[c.i];
    c.i += 1;
    if (sep?.kind === ')') return undefined;
    if (sep?.kind !== ',') return sep === undefined ? 'unbalanced ( in WHERE' : `unexpected ${shown(sep)} in a value list`;
  }
}

/** A literal on the right of a comparison: never a field (SOQL does not compare field to field). */
function parseValue(c: Cursor): string | undefined {
  const t = c.ts[c.i];
  if (t?.kind === 'string' || (t?.kind === 'word' && isLiteral(t.text))) {
    c.i += 1;
    return undefined;
  }
  return `unsupported value ${shown(t)} in WHERE`;
}

function isLiteral(w: string): boolean {
  return KEYWORD_VALUES.has(w.toUpperCase()) || NUMBER.test(w) || DATE.test(w) || DATETIME.test(w) || DATE_LITERAL.test(w) || CURRENCY.test(w);
}

/** A field path, or a known function whose field arguments are collected. */
function parseExpr(c: Cursor, where: string): string | undefined {
  if (++c.depth > MAX_DEPTH) return `${where} is nested too deeply`;
  const err = parseExprInner(c, where);
  c.depth--;
  return err;
}

function parseExprInner(c: Cursor, where: string): string | undefined {
  const t = c.ts[c.i];
  if (t?.kind !== 'word') return `expected a field in ${where}, not ${shown(t)}`;
  if (c.ts[c.i + 1]?.kind === '(') {
    if (!FILTER_FUNCTIONS.has(t.text.toUpperCase())) return `unsupported function ${t.text}(…) in ${where}`;
    c.i += 2;
    for (;;) {
      const a = c.ts[c.i];
      if (a?.kind === 'string' || (a?.kind === 'word' && NUMBER.test(a.text))) {
        c.i += 1;
      } else {
        const err = parseExpr(c, where);
        if (err !== undefined) return err;
      }
      const sep = c.ts[c.i];
      c.i += 1;
      if (sep?.kind === ')') return undefined;
      if (sep?.kind !== ',') return `unexpected ${shown(sep)} in ${t.text}(…)`;
    }
  }
  if (!isFieldPath(t.text)) return `invalid field name ${JSON.stringify(t.text)} in ${where}`;
  c.fields.push(t.text);
  c.i += 1;
  return undefined;
}

/** expr [ASC|DESC] [NULLS FIRST|LAST], … */
function parseOrderBy(c: Cursor): string | undefined {
  for (;;) {
    const err = parseExpr(c, 'ORDER BY');
    if (err !== undefined) return err;
    if (upper(c.ts[c.i]) === 'ASC' || upper(c.ts[c.i]) === 'DESC') c.i += 1;
    if (upper(c.ts[c.i]) === 'NULLS') {
      if (upper(c.ts[c.i + 1]) !== 'FIRST' && upper(c.ts[c.i + 1]) !== 'LAST') return 'expected NULLS FIRST or NULLS LAST';
      c.i += 2;
    }
    if (c.ts[c.i]?.kind !== ',') return undefined;
    c.i += 1;
  }
}
