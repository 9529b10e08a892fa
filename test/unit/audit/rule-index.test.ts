import t from 'tap';
import { indexReasonRules, rulesFor } from '../../../audit/rule-index.ts';

const TENANCY = `# Tenant isolation.
package crm.authz

deny contains reason("subject.tenant_missing", "the subject carries no tenant") if not tenant

# --- writes ---------------------------------------------------------------------------------

# A new record must carry the subject's tenant.
deny contains reason("tenant.mismatch", msg) if {
\taction == "create"
\tbody[tenant_field] != tenant
\tmsg := concat("", ["a new ", object_name, " sets ", tenant_field])
}

deny contains reason("tenant.mismatch", msg) if {
\tstored_write
\t# reason("not.a.code", "in a comment")
\tmsg := concat("", ["the stored ", object_name, " record belongs to tenant ", t])
}
`;
const DECISION = `package crm.authz

deny_reasons := sorted_reasons(deny) if count(deny) > 0

# Safety net, never expected.
else := [reason("policy.default_deny", "no rule allowed the request")]

reason(code, message) := {"code": code, "message": message}
`;

const index = indexReasonRules(new Map([['crm/authz/tenancy.rego', TENANCY], ['crm/authz/decision.rego', DECISION]]));

t.test('indexes every reason("<code>") call with its rule, line and comment', async (t) => {
  t.same([...index.keys()].sort(), ['policy.default_deny', 'subject.tenant_missing', 'tenant.mismatch'], 'helper definitions and comments are not sites');
  const one = index.get('subject.tenant_missing')!;
  t.same(one.map((s) => [s.file, s.line, s.text]), [['crm/authz/tenancy.rego', 4, ['deny contains reason("subject.tenant_missing", "the subject carries no tenant") if not tenant']]], 'a one-line rule');
  const mismatch = index.get('tenant.mismatch')!;
  t.same(mismatch.map((s) => s.line), [9, 15]);
  t.same(mismatch[0]!.comment, ['A new record must carry the subject\'s tenant.'], 'the comment above, section dividers dropped');
  t.same(mismatch[1]!.comment, []);
  t.equal(mismatch[0]!.text.at(-1), '}', 'the block up to its closing brace');
  const safety = index.get('policy.default_deny')!;
  t.same(safety[0]!.text, ['deny_reasons := sorted_reasons(deny) if count(deny) > 0', '', '# Safety net, never expected.', 'else := [reason("policy.default_deny", "no rule allowed the request")]'], 'an else branch is shown with its rule');
  t.same(safety[0]!.comment, ['Safety net, never expected.']);
});

t.test('odd but valid sources', async (t) => {
  const src = `package crm.authz

# Bulk jobs may not export.
deny contains reason("export.denied", msg) if { # bulk
\tinput.kind == "bulk job"
\tmsg := sprintf("export of %s refused for bulk jobs", [object_name])
}

deny contains reason(
\t"export.denied",
\tconcat("", ["export by ", subject_label, " refused"]),
) if {
\tinput.kind == "interactive"
}

deny contains reason("export.denied", "export refused") if input.kind == "other" # reason("old.code", "x")
`;
  const idx = indexReasonRules(new Map([['x.rego', src]]));
  t.same([...idx.keys()], ['export.denied'], 'a code in an end-of-line comment is not a site');
  const sites = idx.get('export.denied')!;
  t.same(sites.map((s) => s.line), [4, 9, 16], 'the code on the line after reason( is found');
  t.equal(sites[0]!.text.at(-1), '}', 'a head line ending in a comment still opens a block');
  t.same(sites[0]!.phrases, ['export of ', ' refused for bulk jobs'], 'sprintf verbs cut the phrases; condition literals are not phrases');
  t.same(rulesFor(idx, 'export.denied', 'export of Contact refused for bulk jobs').map((s) => s.line), [4]);
  t.same(rulesFor(idx, 'export.denied', 'export by user u-1 refused').map((s) => s.line), [9]);
  t.same(rulesFor(idx, 'export.denied', 'export refused').map((s) => s.line), [16]);
});

t.test('the logged message picks the rule among several with one code', async (t) => {
  t.same(rulesFor(index, 'tenant.mismatch', 'the stored Quote record belongs to tenant globex, not acme').map((s) => s.line), [15]);
  t.same(rulesFor(index, 'tenant.mismatch', 'a new Quote sets Tenant__c to "globex"').map((s) => s.line), [9]);
  t.same(rulesFor(index, 'tenant.mismatch', 'something else entirely').map((s) => s.line), [9, 15], 'no fit: all candidates');
  t.same(rulesFor(index, 'tenant.mismatch', undefined).map((s) => s.line), [9, 15]);
  t.same(rulesFor(index, 'auth.token_missing', 'x'), [], 'a code no rule gives');
});
