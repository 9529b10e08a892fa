/**
 * Which Rego rules give a reason code, read from the policy source inside a bundle (opa build
 * keeps the .rego files beside policy.wasm), for `explain`. Pure: source text in, rule sites out.
 *
 * A rule gives a code when its text calls `reason("<code>", …)` with the code as a literal, the
 * convention of policies/ (docs/policies.md). The rule is the block around that call: from the
 * nearest line above that starts in column 0 (a rule head or `else`, as `opa fmt` writes them) to
 * its closing `}` in column 0, with the comment lines right above it (an `else` branch is shown
 * with the rule it belongs to). Comments are ignored when looking for calls and blocks.
 *
 * Several rules may give one code (tenant.mismatch for a create and for a stored record). The
 * logged message then tells them apart: the fixed words of a rule's message (the literals with a
 * space in the call's message argument, or in the expression assigned to the variable it names,
 * cut at sprintf verbs) must all appear in the message it produced. A rule whose message has no
 * fixed words always fits. `rulesFor` returns the rules that fit, or all of them when none does.
 * Not handled: Rego raw strings spanning lines with text in column 0 (they would look like rules).
 */

export type RuleSite = {
  /** Bundle path of the .rego file, e.g. crm/authz/tenancy.rego. */
  readonly file: string;
  /** 1-based line of the rule's first line. */
  readonly line: number;
  /** The rule's lines as written (at most MAX_RULE_LINES, then `…`). */
  readonly text: readonly string[];
  /** The comment lines right above the rule, without `#`. */
  readonly comment: readonly string[];
  /** Fixed words of the rule's message. */
  readonly phrases: readonly string[];
};

export type RuleIndex = ReadonlyMap<string, readonly RuleSite[]>;

const MAX_RULE_LINES = 14;
// Across line breaks: the code may sit on the line after `reason(`.
const REASON_CALL = /\breason\(\s*"([^"\\]+)"\s*,\s*/g;
const STRING_LITERAL = /"((?:[^"\\]|\\.)*)"/g;
const SPRINTF_VERB = /%[-+# 0-9.]*[a-zA-Z%]/;

/** Index every `reason("<code>", …)` call of the given .rego sources (path → text). */
export function indexReasonRules(sources: ReadonlyMap<string, string>): RuleIndex {
  const index = new Map<string, RuleSite[]>();
  for (const [file, source] of [...sources].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const lines = source.split(/\r?\n/);
    const code = lines.map(withoutComment);
    const text = code.join('\n');
    const lineStarts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
    const lineOf = (offset: number): number => {
      let lo = 0;
      let hi = lineStarts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (lineStarts[mid]! <= offset) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const seen = new Set<string>(); // code@first line: one site per rule and code
    for (const m of text.matchAll(REASON_CALL)) {
      const reasonCode = m[1]!;
      const at = ruleStart(code, lineOf(m.index));
      // An `else` branch belongs to the rule above it: show from that rule's head.
      let start = at;
      while (start > 0 && code[start]!.startsWith('else')) start = ruleStart(code, start - 1);
      const key = `${reasonCode}@${start}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const end = ruleEnd(code, at);
      const all = lines.slice(start, end + 1);
      const own = commentAbove(lines, at);
      const site: RuleSite = {
        file,
        line: start + 1,
        text: all.length > MAX_RULE_LINES ? [...all.slice(0, MAX_RULE_LINES), '…'] : all,
        comment: own.length > 0 ? own : commentAbove(lines, start),
        phrases: messagePhrases(text, m.index + m[0].length, code.slice(at, end + 1).join('\n')),
      };
      const list = index.get(reasonCode);
      if (list) list.push(site);
      else index.set(reasonCode, [site]);
    }
  }
  return index;
}

/** The rules giving `code`; narrowed by `message` when that tells them apart. */
export function rulesFor(index: RuleIndex, code: string, message: string | undefined): readonly RuleSite[] {
  const all = index.get(code) ?? [];
  if (all.length < 2 || message === undefined) return all;
  const fitting = all.filter((s) => s.phrases.every((p) => message.includes(p)));
  return fitting.length > 0 ? fitting : all;
}

/** The line without its `#` comment (a `#` inside a string literal is not one). */
function withoutComment(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '#') return line.slice(0, i).trimEnd();
  }
  return line;
}

const isRuleBoundary = (l: string): boolean => l.length > 0 && !/^[\s}]/.test(l);

function ruleStart(code: readonly string[], i: number): number {
  for (let j = i; j >= 0; j--) if (isRuleBoundary(code[j]!)) return j;
  return i;
}

function ruleEnd(code: readonly string[], start: number): number {
  // A one-line rule (no block opened on its head line) ends where it starts.
  if (!/\{\s*$/.test(code[start]!)) return start;
  for (let j = start + 1; j < code.length; j++) if (code[j]!.startsWith('}')) return j;
  return code.length - 1;
}

function commentAbove(lines: readonly string[], start: number): string[] {
  const out: string[] = [];
  for (let j = start - 1; j >= 0 && lines[j]!.startsWith('#'); j--) out.unshift(lines[j]!.replace(/^#\s?/, ''));
  // section dividers (# --- tenant, writes ---) are layout, not an explanation
  return out.filter((c) => !/^-{3}/.test(c.trim()));
}

/**
 * Fixed words of the message argument starting at `from` in `text`: a literal, an expression
 * (concat, sprintf), or a variable whose assignment in `rule` is read instead.
 */
function messagePhrases(text: string, from: number, rule: string): string[] {
  const variable = /^([A-Za-z_][A-Za-z0-9_]*)\s*\)/.exec(text.slice(from, from + 200));
  if (variable) {
    const assign = new RegExp(`\\b${variable[1]}\\s*:?=\\s*`).exec(rule);
    return assign ? literalsOf(expressionAt(rule, assign.index + assign[0].length)) : [];
  }
  return literalsOf(expressionAt(text, from));
}

/** The expression starting at `i`: up to the `,` or `)` that closes it, or a line end at depth 0. */
function expressionAt(s: string, i: number): string {
  let depth = 0;
  let inString = false;
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return s.slice(i, j);
      depth--;
    } else if ((c === ',' || c === '\n') && depth === 0) return s.slice(i, j);
  }
  return s.slice(i);
}

function literalsOf(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(STRING_LITERAL)) {
    let s: string;
    try {
      s = JSON.parse(`"${m[1]!}"`) as string;
    } catch {
      continue;
    }
    for (const piece of s.split(SPRINTF_VERB)) if (piece.includes(' ') && piece.trim().length > 0) out.push(piece);
  }
  return out;
}
