/**
 * audit/reason-text.ts has a meaning for every reason code the gateway (gateway/errors.ts) and
 * the policy (docs/policies.md → Reason codes) can write, and none for a code that exists in
 * neither.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ERRORS } from '../../../gateway/errors.ts';
import { REASON_TEXT, reasonMeaning } from '../../../audit/reason-text.ts';

function policyCodes(): string[] {
  const md = readFileSync(new URL('../../../docs/policies.md', import.meta.url), 'utf8');
  const section = md.split(/^## Reason codes\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  return section
    .split('\n')
    .map((l) => /^\|\s*`([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)`\s*\|/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
}

t.test('every gateway reason and every documented policy code has a meaning', async (t) => {
  const policy = policyCodes();
  t.ok(policy.length >= 10, 'policies.md has its reason table');
  for (const e of Object.values(ERRORS)) t.ok(reasonMeaning(e.reason), `gateway reason ${e.reason}`);
  for (const c of policy) t.ok(reasonMeaning(c), `policy code ${c}`);
  t.equal(REASON_TEXT[policy[0]!]!.kind, 'policy');
  const known = new Set([...Object.values(ERRORS).map((e) => e.reason), ...policy]);
  for (const c of Object.keys(REASON_TEXT)) t.ok(known.has(c), `${c} is a code of errors.ts or policies.md`);
  t.equal(reasonMeaning('no.such_code'), undefined);
  t.equal(reasonMeaning('constructor'), undefined);
});
