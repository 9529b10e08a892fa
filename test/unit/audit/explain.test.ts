/**
 * `explain` on a trail written by the real gateway: who, device, what, policy revision, the
 * decision with each reason's meaning, the obligations in words and the outcome.
 */
import t from 'tap';
import { renderCondition, renderFieldRules } from '../../../audit/explain.ts';
import { auditCli as cli, runMixedTraffic, type Sent } from '../../fixtures/gateway-trail.ts';
import { startHarness } from '../../integration/helpers/harness.ts';
import { join } from 'node:path';


const h = await startHarness();
let sent: Sent[] = [];
let dir = '';
t.before(async () => {
  sent = await runMixedTraffic(h);
  dir = join(h.logDir, 'decisions');
});
t.teardown(() => h.close());
const idOf = (label: string): string => sent.find((s) => s.label.startsWith(label))!.decisionId;

t.test('an allowed, filtered list', async (t) => {
  const id = idOf('globex-user: list Contacts');
  const { code, out } = await cli('explain', dir, id);
  t.equal(code, 0);
  t.match(out, `Decision ${id}  (it/segment-000000000001.jsonl line`);
  t.match(out, /Who +user u-globex of tenant "globex", through client crm-demo-console/);
  t.match(out, 'roles: sales · scopes: crm.read crm.write');
  t.match(out, 'clearance: confidential · regions: US');
  t.match(out, /Device +managed, compliant, windows \(posture assertion: verified\)/);
  t.match(out, /What +GET \/services\/data\/v60\.0\/query/);
  t.match(out, 'list Contact (adapter salesforce)');
  t.match(out, 'fields: Id, Name, Email, Phone, SSN__c, DateOfBirth__c, Tenant__c, Region__c');
  t.match(out, /Policy +crm\/authz\/decision of bundle revision sha256:[0-9a-f]{32}/);
  t.match(out, /bundle file sha256 [0-9a-f]{64}/);
  t.match(out, /Decision +ALLOWED by the policy/);
  t.match(out, 'allow.role: role sales may list Contact');
  t.match(out, 'means: a role of the user grants this action on this object');
  t.match(out, /rule crm\/authz\/grants\.rego:\d+\n +grants contains reason\("allow\.role", msg\) if \{/);
  t.match(out, /Obligations rows kept only where Tenant__c = "globex" AND Region__c IN \("US"\)/);
  t.match(out, 'Contact: DateOfBirth__c removed, SSN__c removed');
  t.match(out, /Outcome +\S+: upstream crm answered 200 in [\d.]+ ms; the client got 200/);
  t.match(out, /rows: \d+ in, \d+ out/);
  t.match(out, 'fields removed: Contact.DateOfBirth__c, Contact.SSN__c');
});

t.test('masking, a policy denial, a hidden record, a refusal before the policy', async (t) => {
  const masked = await cli('explain', dir, idOf('quote-bot: list Opportunities'));
  t.match(masked.out, /Who +automation quote-bot of tenant "acme", through client quote-bot/);
  t.match(masked.out, 'Opportunity: Amount masked as "***"');
  t.match(masked.out, 'fields masked: Opportunity.Amount');
  t.match(masked.out, /Device +unknown \(posture assertion: no posture assertion\)/);

  const denied = await cli('explain', dir, idOf('eu-rep-unmanaged: list Contacts'));
  t.match(denied.out, /Device +unmanaged, not compliant, windows/);
  t.match(denied.out, /Decision +REFUSED by the policy, answered 403/);
  t.match(denied.out, 'device.unmanaged: restricted data');
  t.match(denied.out, 'means: restricted data needs a managed, compliant device');
  t.match(denied.out, /rule crm\/authz\/classification\.rego:\d+\n +deny contains reason\("device\.unmanaged", msg\) if \{\n +not device_managed/);
  t.match(denied.out, /Outcome +none: a refused request is not forwarded/);

  const discount = await cli('explain', dir, idOf('quote-bot: create a Quote with a 35%'));
  t.match(discount.out, 'body fields: ');
  t.match(discount.out, 'Discount = 35');
  t.match(discount.out, 'automation.discount_limit: discount 35 exceeds the limit 20');

  const hidden = await cli('explain', dir, idOf('quote-bot (IdP): update globex Quote'));
  t.match(hidden.out, 'stored record: Region__c = "US", Tenant__c = "globex"');
  t.match(hidden.out, 'tenant.mismatch: the stored Quote record belongs to tenant globex');
  // Three rules give tenant.mismatch; the logged message names the one about the stored record.
  t.match(hidden.out, /\n +rule crm\/authz\/tenancy\.rego:\d+\n +deny contains reason\("tenant\.mismatch", msg\) if \{\n +stored_write\n/);
  t.notMatch(hidden.out, 'one of the rules', 'narrowed to one rule by its message');
  t.match(hidden.out, 'the client was told resource.not_found ("Record not found") instead, so that it does not learn that the record exists');

  const before = await cli('explain', dir, idOf('no token'));
  t.match(before.out, /Who +not known/);
  t.match(before.out, /Decision +REFUSED by authentication, before the policy ran, answered 401/);
  t.match(before.out, 'auth.token_missing: No bearer token');
  t.match(before.out, 'means: no bearer token was sent');
  t.match(before.out, /Policy +not evaluated/);
  t.notMatch(before.out, /rule |rules cannot be named/, 'a refusal of the gateway names no Rego rule');

  const rows = await cli('explain', dir, idOf('eu-rep: list without the row fields'));
  t.match(rows.out, 'REFUSED by the gateway after the policy allowed it, answered 400');
  t.match(rows.out, 'not applied, the request was refused');
});

t.test('--json prints the two records; an unknown id exits 1', async (t) => {
  const id = idOf('eu-rep: list Contacts');
  const { code, out } = await cli('explain', dir, id, '--json');
  t.equal(code, 0);
  const j = JSON.parse(out) as { decision: Record<string, unknown>; outcome: Record<string, unknown> | null };
  t.match(j.decision, { kind: 'decision', decision_id: id, allow: true });
  t.match(j.outcome, { kind: 'outcome', decision_id: id, status: 200 });
  const denied = JSON.parse((await cli('explain', dir, idOf('no token'), '--json')).out) as { outcome: unknown };
  t.equal(denied.outcome, null);
  const missing = await cli('explain', dir, '00000000-0000-4000-8000-000000000000');
  t.equal(missing.code, 1);
  t.match(missing.err, 'no decision 00000000-0000-4000-8000-000000000000');
  t.equal((await cli('explain', dir)).code, 2);
});

t.test('conditions and field rules in words', async (t) => {
  const f = (field: string, operator: string, value: unknown) => ({ type: 'field', field, operator, value });
  t.equal(renderCondition({ type: 'compound', operator: 'and', value: [f('Tenant__c', 'eq', 'acme'), f('Region__c', 'in', ['EU'])] }), 'Tenant__c = "acme" AND Region__c IN ("EU")');
  t.equal(
    renderCondition({ type: 'compound', operator: 'and', value: [f('A', 'ne', 1), { type: 'compound', operator: 'or', value: [f('B', 'gte', 2), { type: 'compound', operator: 'not', value: [f('C', 'nin', ['x', 'y'])] }] }] }),
    'A != 1 AND (B >= 2 OR NOT (C NOT IN ("x", "y")))',
  );
  t.strictSame(renderFieldRules({ Quote: { Discount: { replace: { value: null } } }, Contact: { SSN__c: { remove: {} } } }), ['Contact: SSN__c removed', 'Quote: Discount masked as null']);
});

t.test("an upstream's error answer: what was dropped from its body, and what was rewritten", async (t) => {
  const { explainLines } = await import('../../../audit/explain.ts');
  const at = (record: Record<string, unknown>) => ({ record, instance: 'it', segment: 'segment-000000000001.jsonl', line: 1 });
  const decision = at({ kind: 'decision', decision_id: 'd1', allow: true, decided_by: 'policy', input: {}, result: { allow: true }, reasons: [] });
  const outcome = (error_body: unknown) =>
    explainLines(decision, at({ kind: 'outcome', decision_id: 'd1', timestamp: 't', upstream: { name: 'crm', status: 400, latency_ms: 1 }, status: 400, error_body })).join('\n');
  t.match(outcome({ dropped: ['/0/duplicateResult'], dropped_total: 1, rewritten: ['/0/message'] }), 'upstream error body: dropped /0/duplicateResult');
  t.match(outcome({ dropped: ['/0/duplicateResult'], dropped_total: 1, rewritten: ['/0/message'] }), 'rewritten (record ids taken out): /0/message');
  t.match(outcome({ dropped: ['/a', '/b'], dropped_total: 60 }), 'dropped /a, /b and 58 more');
  t.match(outcome({ dropped: [], dropped_total: 0 }), 'upstream error body: nothing dropped');
  t.notMatch(outcome(undefined), 'upstream error body');
});
