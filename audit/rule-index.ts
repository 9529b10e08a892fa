/**
 * Which Rego rules give a reason code, read from the policy source inside a bundle (opa build
 * keeps the .rego files beside policy.wasm), for `explain`. Pure: source text in, rule sites out.
 *
 * A rule gives a code when its text calls `reason("<code>", …)` with the code as a literal, the
 * convention of policies/ (docs/policies.md). The rule is the block around that call: from the
 * nearest line above that starts in column 0 (a rule head or `else`, as `opa fmt` writes them) to
 * its closing `}` in column 0, with the comment lines right above it (an `else` branch is shown
 * with the rule it belongs to).
 *
 * Several rules may give one code (tenant.mismatch for a create and for a stored record). The
 * logged message then tells them apart: every literal of a rule that contains a space (the fixed
 * words of its message, such as " belongs to tenant ") must appear in the message it produced.
 * `rulesFor` returns the rules that pass that test, or all of them when none or the test is moot.
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
  /** Literals of the rule that contain a space: fixed words of its message. */
  readonly phrases: readonly string[];
};

export type RuleIndex = ReadonlyMap<string, readonly RuleSite[]>;

const MAX_RULE_LINES = 14;
const REASON_CALL = /\breason\(\s*"([^"\\]+)"/g;
const STRING_LITERAL = /"((?:[^"\\]|\\.)*)"/g;

/** Index every `reason("<code>", …)` call of the given .rego sources (path → text). */
export function indexReasonRules(sources: ReadonlyMap<string, string>): RuleIndex {
  const index = new Map<string, RuleSite[]>();
  for (const [file, source] of [...sources].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const lines = source.split('\n');
    const seen = new Set<string>(); // code@start: one rule calling reason() twice with a code is one site
    lines.forEach((text, i) => {
      if (text.trimStart().startsWith('#')) return;
      for (const m of text.matchAll(REASON_CALL)) {
        const code = m[1]!;
        const at = ruleStart(lines, i);
        // An `else` branch belongs to the rule above it: show from that rule's head.
        let start = at;
        while (start > 0 && lines[start]!.startsWith('else')) start = ruleStart(lines, start - 1);
        const key = `${code}@${at}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const end = ruleEnd(lines, at);
        const all = lines.slice(start, end + 1);
        const own = commentAbove(lines, at);
        const site: RuleSite = {
          file,
          line: start + 1,
          text: all.length > MAX_RULE_LINES ? [...all.slice(0, MAX_RULE_LINES), '…'] : all,
          comment: own.length > 0 ? own : commentAbove(lines, start),
          phrases: phrasesOf(all.filter((l) => !l.trimStart().startsWith('#')).join('\n'), code),
        };
        const list = index.get(code);
        if (list) list.push(site);
        else index.set(code, [site]);
      }
    });
  }
  return index;
}

/** The rules giving `code`; narrowed by `message` when that tells them apart. */
export function rulesFor(index: RuleIndex, code: string, message: string | undefined): readonly RuleSite[] {
  const all = index.get(code) ?? [];
  if (all.length < 2 || message === undefined) return all;
  const fitting = all.filter((s) => s.phrases.length > 0 && s.phrases.every((p) => message.includes(p)));
  return fitting.length > 0 ? fitting : all;
}

const isRuleBoundary = (l: string): boolean => l.length > 0 && !/^[\s#}]/.test(l);

function ruleStart(lines: readonly string[], i: number): number {
  for (let j = i; j >= 0; j--) if (isRuleBoundary(lines[j]!)) return j;
  return i;
}

function ruleEnd(lines: readonly string[], start: number): number {
  // A one-line rule (no block opened on its head line) ends where it starts.
  if (!/\{\s*$/.test(lines[start]!)) return start;
  for (let j = start + 1; j < lines.length; j++) if (lines[j]!.startsWith('}')) return j;
  return lines.length - 1;
}

function commentAbove(lines: readonly string[], start: number): string[] {
  const out: string[] = [];
  for (let j = start - 1; j >= 0 && lines[j]!.startsWith('#'); j--) out.unshift(lines[j]!.replace(/^#\s?/, ''));
  // section dividers (# --- tenant, writes ---) are layout, not an explanation
  return out.filter((c) => !/^-{3}/.test(c.trim()));
}

function phrasesOf(text: string, code: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(STRING_LITERAL)) {
    let s: string;
    try {
      s = JSON.parse(`"${m[1]!}"`) as string;
    } catch {
      continue;
    }
    if (s !== code && s.includes(' ') && s.trim().length > 0) out.push(s);
  }
  return out;
}
