/**
 * Minimization of a decision record's input before it is written (issue 4 §2), pure functions:
 *
 * - `parseMaskRules`: the result of the bundle's `system.log.mask` rule (OPA's convention: a set
 *   of JSON Pointers to erase, "/input/…", or `{op: "upsert", path, value}` / `{op: "remove",
 *   path}` objects), checked; anything else is an error (the gateway then refuses the request);
 * - `applyMask`: the rules applied to a copy of the input: erased pointers are removed and listed
 *   in `erased`, upserted paths get their value and are listed in `masked`, both as written by
 *   the rule ("/input/…") and only when they changed something;
 * - `truncateInput`: an input whose RFC 8785 canonical JSON exceeds a limit is replaced by a stub
 *   with its size and SHA-256, never dropped.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { eraseInput } from './erase.ts';

export type MaskRule = { readonly op: 'remove'; readonly path: string } | { readonly op: 'upsert'; readonly path: string; readonly value: unknown };

/** The mask rule's entrypoint in a bundle (`opa build -e system/log/mask`). */
export const MASK_ENTRYPOINT = 'system/log/mask';

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reference tokens of a pointer "/input/a/b" below `input` (["a", "b"]); undefined when invalid. */
function inputTokens(path: string): string[] | undefined {
  if (path !== '/input' && !path.startsWith('/input/')) return undefined;
  const raw = path.split('/').slice(2);
  if (raw.some((t) => /~[^01]|~$/.test(t))) return undefined;
  return raw.map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Check a mask rule's result. Returns the rules, or a message naming what is malformed. Sets
 * come out of Wasm as JSON arrays; `undefined` (no mask rule result) is no rules.
 */
export function parseMaskRules(raw: unknown): MaskRule[] | string {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return `system.log.mask must be a set, got ${raw === null ? 'null' : typeof raw}`;
  const rules: MaskRule[] = [];
  for (const [i, r] of raw.entries()) {
    const at = `system.log.mask[${i}]`;
    if (typeof r === 'string') {
      // The string itself is not quoted: a broken rule could return input values.
      if (!inputTokens(r)) return `${at}: a string that is not a JSON Pointer under /input`;
      rules.push({ op: 'remove', path: r });
      continue;
    }
    if (!isObj(r)) return `${at}: must be a JSON Pointer string or an {op, path} object`;
    const { op, path } = r;
    if (typeof path !== 'string' || !inputTokens(path)) return `${at}.path: must be a JSON Pointer under /input`;
    if (op === 'remove') {
      rules.push({ op, path });
    } else if (op === 'upsert') {
      if (!Object.hasOwn(r, 'value')) return `${at}: an upsert needs a value`;
      if (inputTokens(path)!.length === 0) return `${at}: an upsert needs a path below /input`;
      rules.push({ op, path, value: r.value });
    } else {
      return `${at}.op: must be "upsert" or "remove"`;
    }
  }
  return rules;
}

/**
 * Apply mask rules to a copy of `input` (never mutates it). An erase of "/input" empties the
 * whole input. A pointer into an array or through a missing parent changes nothing and is not
 * listed (array elements are not addressed by index: positions shift). An upsert sets the key
 * when its parent object exists, creating it when absent.
 */
export function applyMask(input: unknown, rules: readonly MaskRule[]): { input: unknown; erased: string[]; masked: string[] } {
  if (rules.length === 0) return { input, erased: [], masked: [] };
  let copy = structuredClone(input) as unknown;
  const erased = new Set<string>();
  const masked = new Set<string>();
  for (const rule of rules) {
    const tokens = inputTokens(rule.path)!;
    if (tokens.length === 0) {
      // only a remove can address the whole input (parseMaskRules refuses an upsert of it)
      copy = {};
      erased.add(rule.path);
      continue;
    }
    let node: unknown = copy;
    for (const t of tokens.slice(0, -1)) node = isObj(node) && Object.hasOwn(node, t) ? node[t] : undefined;
    if (!isObj(node)) continue;
    const last = tokens[tokens.length - 1]!;
    if (rule.op === 'remove') {
      if (!Object.hasOwn(node, last)) continue;
      delete node[last];
      erased.add(rule.path);
    } else {
      node[last] = structuredClone(rule.value);
      masked.add(rule.path);
    }
  }
  return { input: copy, erased: [...erased].sort(), masked: [...masked].sort() };
}

export type TruncatedInput = {
  readonly truncated: true;
  /** Bytes of the canonical JSON of the input as it would have been written. */
  readonly bytes: number;
  /** Hex SHA-256 of those bytes. */
  readonly sha256: string;
  readonly request: { readonly method?: string; readonly path?: string };
};

/**
 * Replace an input whose canonical JSON (RFC 8785, UTF-8) is longer than `maxBytes` by a stub:
 * its size, the SHA-256 of the whole, and the request method and path. An input that cannot be
 * serialized is returned as is (the log write then fails closed). `canonical`, when given, is
 * `canonicalJson(input)` already computed.
 */
export function truncateInput(input: unknown, maxBytes: number, canonical?: string): { input: unknown; truncated: boolean; canonical?: string } {
  let text: string | undefined = canonical;
  if (text === undefined) {
    try {
      text = canonicalJson(input);
    } catch {
      return { input, truncated: false };
    }
  }
  if (text === undefined) return { input, truncated: false };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return { input, truncated: false, canonical: text };
  const req = isObj(input) && isObj(input.request) ? input.request : {};
  const request: { method?: string; path?: string } = {};
  if (typeof req.method === 'string') request.method = req.method.slice(0, 16);
  if (typeof req.path === 'string') request.path = req.path.slice(0, 2048);
  const stub: TruncatedInput = { truncated: true, bytes, sha256: createHash('sha256').update(text, 'utf8').digest('hex'), request };
  return { input: stub, truncated: true };
}

export type Minimized = {
  readonly input: unknown;
  /** The canonical JSON of `input` when it was measured and kept (for CanonicalText). */
  readonly canonicalInput?: string;
  readonly erased: string[];
  readonly masked: string[];
  readonly truncated: boolean;
};

/**
 * The whole minimization of one record's input, in order: the static `decisionLog.erase`
 * pointers, the mask rule's result (raw, as the engine returned it; checked here), then the
 * size limit. Returns an Error when the mask result is malformed: nothing may be written then.
 * `canonical`: `canonicalJson(input)` when the caller has it (used only if nothing was changed).
 */
export function minimizeInput(
  input: unknown,
  o: { readonly erase: readonly string[]; readonly maskResult: unknown; readonly maxInputBytes: number; readonly canonical?: string },
): Minimized | Error {
  const rules = parseMaskRules(o.maskResult);
  if (typeof rules === 'string') return new Error(rules);
  const statically = eraseInput(input, o.erase);
  const masked = applyMask(statically.input, rules);
  // Erasing and masking work on a copy: the same object back means nothing changed, and the
  // caller's canonical text of `input` (o.canonical) is still the text of what is written.
  const t = truncateInput(masked.input, o.maxInputBytes, masked.input === input ? o.canonical : undefined);
  return {
    input: t.input,
    ...(t.canonical !== undefined ? { canonicalInput: t.canonical } : {}),
    erased: [...new Set([...statically.erased, ...masked.erased])].sort(),
    masked: masked.masked,
    truncated: t.truncated,
  };
}
