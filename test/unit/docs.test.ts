/**
 * The operator docs are checked against the code they describe:
 *  - docs/reason-codes.md and the README's reason-code table have one row per ERRORS entry
 *    (code, reason and status in the same row) and name no code that does not exist;
 *  - docs/reason-codes.md lists every policy reason code of docs/policies.md;
 *  - docs/configuration.md has one table row per key of the config schema (walked recursively,
 *    array items included, as `a.b[].c`) and documents no key the schema does not have.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ERRORS } from '../../gateway/errors.ts';
import { configSchema } from '../../gateway/config/schema.ts';

const doc = (name: string): string => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

/** Table rows (lines starting with `|`) as arrays of trimmed cells. */
function rows(md: string): string[][] {
  return md
    .split('\n')
    .filter((l) => l.trimStart().startsWith('|'))
    .map((l) =>
      l
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim()),
    );
}

const readme = (): string => readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const readmeReasons = (): string => readme().split(/^## Reason codes\s*$/m)[1]?.split(/^## /m)[0] ?? '';

for (const [name, text] of [
  ['docs/reason-codes.md', () => doc('reason-codes.md')],
  ["README.md's reason-code table", readmeReasons],
] as const) t.test(`${name} documents every gateway error, in one row each`, async (t) => {
  const md = text();
  t.ok(md.length > 0, 'the section is there');
  const table = rows(md);
  for (const [code, e] of Object.entries(ERRORS)) {
    const matching = table.filter((r) => r.some((c) => c.includes(`\`${code}\``)));
    t.equal(matching.length, 1, `${code} has exactly one row`);
    const row = matching[0];
    if (!row) continue;
    t.ok(
      row.some((c) => c.includes(`\`${e.reason}\``)),
      `${code} row names its reason ${e.reason}`,
    );
    t.ok(
      row.some((c) => c === String(e.status)),
      `${code} row has status ${e.status}`,
    );
  }
  // and every reason string appears (also checked per row above; this catches a typo'd row)
  for (const e of Object.values(ERRORS)) t.ok(md.includes(`\`${e.reason}\``), `reason ${e.reason} appears`);
  // no stale codes
  const mentioned = new Set(md.match(/GW_ERR_[A-Z_]+/g) ?? []);
  for (const code of mentioned) t.ok(Object.hasOwn(ERRORS, code), `${code} (named in the doc) exists in ERRORS`);
});

t.test('docs/reason-codes.md lists every policy reason code of docs/policies.md', async (t) => {
  const policies = doc('policies.md');
  const section = policies.split(/^## Reason codes\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const codes = rows(section)
    .map((r) => /^`([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)`$/.exec(r[0] ?? '')?.[1])
    .filter((c): c is string => c !== undefined);
  t.ok(codes.length > 0, 'policies.md has a reason-code table');
  const md = doc('reason-codes.md');
  for (const c of codes) t.ok(md.includes(`\`${c}\``), `policy code ${c} is listed`);
});

type SchemaNode = {
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
};

/** Every key path of the schema: `listen.host`, `upstreams[].url`, `deviceTrust.jwks.keys[].kty`. */
function keyPaths(node: SchemaNode, prefix: string): string[] {
  const out: string[] = [];
  if (node.items) out.push(...keyPaths(node.items, `${prefix}[]`));
  for (const alt of node.anyOf ?? []) out.push(...keyPaths(alt, prefix));
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const p = prefix === '' ? k : `${prefix}.${k}`;
    out.push(p, ...keyPaths(child, p));
  }
  return [...new Set(out)];
}

t.test('docs/configuration.md documents every config key, in one row each', async (t) => {
  const paths = keyPaths(configSchema as SchemaNode, '');
  t.ok(paths.length > 40, `the schema walk found ${paths.length} keys`);
  t.ok(paths.includes('upstreams[].adapterOptions') && paths.includes('deviceTrust.jwks.keys[].kty'), 'array items are walked');
  const table = rows(doc('configuration.md'));
  const firstCells = table.map((r) => /^`([^`]+)`$/.exec(r[0] ?? '')?.[1]).filter((c): c is string => c !== undefined);
  for (const p of paths) {
    t.equal(firstCells.filter((c) => c === p).length, 1, `${p} has exactly one row`);
  }
  const known = new Set(paths);
  for (const c of firstCells) {
    if (/^[a-zA-Z]+(\[\])?([.][a-zA-Z]+(\[\])?)*$/.test(c)) t.ok(known.has(c), `${c} (documented) is a schema key`);
  }
});
