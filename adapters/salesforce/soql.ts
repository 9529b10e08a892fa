/**
 * Just enough SOQL to tell the policy which object and fields a query reads:
 *
 *   SELECT item, … FROM Object [clauses…]
 *   item := Field | Parent.Field | FIELDS(ALL|STANDARD|CUSTOM) | (SELECT item, … FROM ChildRelationship [clauses…])
 *
 * Clauses after FROM (WHERE, ORDER BY, LIMIT, OFFSET, WITH, USING SCOPE, FOR …) are skipped,
 * with strings and parentheses respected. Refused (fail closed, because the response would no
 * longer be keyed by the object's own field names and types, so field rules could not find
 * them): aggregate and other functions (`COUNT()`, `MAX(SSN__c) m`, `toLabel(…)`), aliases,
 * `TYPEOF`, `GROUP BY` / `HAVING` (AggregateResult rows), and an alias on the FROM object.
 */

/** One query level: the object (or child relationship) and what it selects. */
export type SoqlSelect = {
  /** Object API name at the top level, child relationship name in a subquery. */
  readonly object: string;
  /** Plain and dotted (parent relationship) field names as written. */
  readonly fields: readonly string[];
  /** True when FIELDS(…) was selected: the field list is then unknown. */
  readonly allFields: boolean;
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

const CLAUSES: ReadonlySet<string> = new Set(['WHERE', 'WITH', 'USING', 'ORDER', 'LIMIT', 'OFFSET', 'FOR', 'UPDATE']);
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
  const after = ts[i];
  if (after !== undefined && !(nested && after.kind === ')')) {
    if (after.kind !== 'word' || !CLAUSES.has(after.text.toUpperCase())) {
      return REFUSED_CLAUSES.has(after.text.toUpperCase()) ? `${after.text.toUpperCase()} is not supported` : `unexpected ${JSON.stringify(after.text)} after FROM ${objectToken.text}`;
    }
  }
  // Skip the remaining clauses, balancing parentheses (semi-joins, IN lists).
  let depth = 0;
  for (; i < ts.length; i++) {
    const t = ts[i] as Token;
    if (t.kind === '(') depth++;
    else if (t.kind === ')') {
      if (depth === 0) {
        if (nested) break;
        return 'unbalanced )';
      }
      depth--;
    } else if (depth === 0 && t.kind === 'word' && REFUSED_CLAUSES.has(t.text.toUpperCase())) {
      return `${t.text.toUpperCase()} is not supported`;
    }
  }
  if (depth !== 0) return 'unbalanced (';
  if (nested && ts[i]?.kind !== ')') return 'unterminated subquery';
  return { select: { object: objectToken.text, fields, allFields, children }, next: i };
}
