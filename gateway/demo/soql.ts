/**
 * The small SOQL subset the demo CRM understands:
 *
 *   SELECT f1, f2 | FIELDS(ALL) FROM Object
 *     [WHERE cond [AND cond]…]  cond := Field (= | != | < | <= | > | >=) literal | Field [NOT] IN (literal, …)
 *     [ORDER BY Field [ASC | DESC]] [LIMIT n] [OFFSET n]
 *
 * Literals are 'quoted strings' (with \' and \\ escapes), numbers, or bare date/datetime
 * literals, null, true, false. Keywords are case-insensitive, as in Salesforce. Anything else is a
 * `SoqlError`, which the demo CRM answers with MALFORMED_QUERY. This is a test double, not a
 * SOQL implementation: no OR, no relationships, no aggregates.
 */

export type SoqlLiteral = string | number | boolean | null;

export type SoqlCondition =
  | { readonly field: string; readonly op: '=' | '!=' | '<' | '<=' | '>' | '>='; readonly value: SoqlLiteral }
  | { readonly field: string; readonly op: 'IN' | 'NOT IN'; readonly value: readonly SoqlLiteral[] };

export type SoqlQuery = {
  readonly object: string;
  /** Field names as written, or 'ALL' for FIELDS(ALL). */
  readonly fields: readonly string[] | 'ALL';
  readonly where: readonly SoqlCondition[];
  readonly orderBy?: { readonly field: string; readonly direction: 'ASC' | 'DESC' };
  readonly limit?: number;
  readonly offset?: number;
};

export class SoqlError extends Error {
  override name = 'SoqlError';
}

type Token =
  | { readonly kind: 'ident'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string };

const IDENT = /[A-Za-z_][A-Za-z0-9_.]*/y;
// numbers and bare date / datetime literals (2026-01-31, 2026-01-31T00:00:00Z)
const NUMBER_OR_DATE = /-?[0-9][0-9:.TZ+-]*/y;
const PUNCT = /!=|<=|>=|[(),=<>]/y;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new SoqlError('unterminated string literal');
        const d = src[i]!;
        if (d === '\\') {
          const e = src[i + 1];
          if (e === undefined) throw new SoqlError('unterminated string literal');
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          text += d;
          i++;
        }
      }
      out.push({ kind: 'string', text });
      continue;
    }
    const m = matchAt(IDENT, src, i) ?? matchAt(NUMBER_OR_DATE, src, i) ?? matchAt(PUNCT, src, i);
    if (m === undefined) throw new SoqlError(`unexpected character '${c}' at ${i}`);
    const kind = /[A-Za-z_]/.test(m[0]!) ? 'ident' : /[-0-9]/.test(m[0]!) ? 'number' : 'punct';
    out.push({ kind, text: m });
    i += m.length;
  }
  return out;
}

function matchAt(re: RegExp, src: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(src);
  return m ? m[0] : undefined;
}

/** Parses one query of the subset above; throws `SoqlError` on anything else. */
export function parseSoql(src: string): SoqlQuery {
  const toks = tokenize(src);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const isKw = (kw: string, t: Token | undefined = peek()): boolean =>
    t !== undefined && t.kind === 'ident' && t.text.toUpperCase() === kw;
  const expectKw = (kw: string): void => {
    if (!isKw(kw)) throw new SoqlError(`expected ${kw}${found()}`);
    pos++;
  };
  const expectPunct = (p: string): void => {
    const t = peek();
    if (t?.kind !== 'punct' || t.text !== p) throw new SoqlError(`expected '${p}'${found()}`);
    pos++;
  };
  const found = (): string => {
    const t = peek();
    return t === undefined ? ' at end of query' : ` near '${t.text}'`;
  };
  const ident = (what: string): string => {
    const t = peek();
    if (t?.kind !== 'ident') throw new SoqlError(`expected ${what}${found()}`);
    pos++;
    return t.text;
  };
  const integer = (what: string): number => {
    const t = peek();
    if (t?.kind !== 'number' || !/^[0-9]+$/.test(t.text)) throw new SoqlError(`expected ${what}${found()}`);
    pos++;
    return Number(t.text);
  };
  const literal = (): SoqlLiteral => {
    const t = peek();
    if (t === undefined) throw new SoqlError('expected a value at end of query');
    pos++;
    if (t.kind === 'string') return t.text;
    if (t.kind === 'number') return /^-?[0-9]+(\.[0-9]+)?$/.test(t.text) ? Number(t.text) : t.text;
    if (t.kind === 'ident') {
      const u = t.text.toUpperCase();
      if (u === 'NULL') return null;
      if (u === 'TRUE') return true;
      if (u === 'FALSE') return false;
    }
    pos--;
    throw new SoqlError(`expected a value${found()}`);
  };

  expectKw('SELECT');
  let fields: string[] | 'ALL';
  if (isKw('FIELDS') && toks[pos + 1]?.text === '(') {
    pos += 2;
    if (!isKw('ALL')) throw new SoqlError(`only FIELDS(ALL) is supported${found()}`);
    pos++;
    expectPunct(')');
    fields = 'ALL';
  } else {
    fields = [ident('a field name')];
    while (peek()?.text === ',') {
      pos++;
      fields.push(ident('a field name'));
    }
  }
  expectKw('FROM');
  const object = ident('an object name');

  const where: SoqlCondition[] = [];
  if (isKw('WHERE')) {
    pos++;
    do {
      if (where.length > 0) pos++; // the AND
      const field = ident('a field name');
      if (isKw('IN') || (isKw('NOT') && isKw('IN', toks[pos + 1]))) {
        const op = isKw('NOT') ? 'NOT IN' : 'IN';
        pos += op === 'IN' ? 1 : 2;
        expectPunct('(');
        const values = [literal()];
        while (peek()?.text === ',') {
          pos++;
          values.push(literal());
        }
        expectPunct(')');
        where.push({ field, op, value: values });
      } else {
        const t = peek();
        if (t?.kind !== 'punct' || !['=', '!=', '<', '<=', '>', '>='].includes(t.text)) {
          throw new SoqlError(`expected a comparison operator${found()}`);
        }
        pos++;
        where.push({ field, op: t.text as '=' | '!=' | '<' | '<=' | '>' | '>=', value: literal() });
      }
    } while (isKw('AND'));
    if (isKw('OR')) throw new SoqlError('OR is not supported by the demo CRM');
  }

  let orderBy: SoqlQuery['orderBy'];
  if (isKw('ORDER')) {
    pos++;
    expectKw('BY');
    const field = ident('a field name');
    let direction: 'ASC' | 'DESC' = 'ASC';
    if (isKw('ASC') || isKw('DESC')) direction = ident('ASC or DESC').toUpperCase() as 'ASC' | 'DESC';
    orderBy = { field, direction };
  }
  let limit: number | undefined;
  if (isKw('LIMIT')) {
    pos++;
    limit = integer('a LIMIT count');
  }
  let offset: number | undefined;
  if (isKw('OFFSET')) {
    pos++;
    offset = integer('an OFFSET count');
  }
  if (pos !== toks.length) throw new SoqlError(`unexpected token${found()}`);
  return {
    object,
    fields,
    where,
    ...(orderBy ? { orderBy } : {}),
    ...(limit !== undefined ? { limit } : {}),
    ...(offset !== undefined ? { offset } : {}),
  };
}
