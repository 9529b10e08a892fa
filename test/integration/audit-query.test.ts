/**
 * `audit query`: real SQL through DuckDB over a trail written by the real gateway. Persona
 * requests (allowed lists and a read, a hidden record, denials by the policy and by
 * authentication), then every query of docs/audit-queries.md, exactly as documented, with exact
 * rows; the CLI spawned once for CSV, and the output formats and exit codes.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_IDS } from '../../gateway/demo/crm-data.ts';
import { formatCsv, formatJson, formatTable, queryCommand, QueryError, runQuery, type QueryResult } from '../../audit/query.ts';
import { API, ROOT, soql, startHarness } from './helpers/harness.ts';

const DOC = readFileSync(join(ROOT, 'docs', 'audit-queries.md'), 'utf8');

/** The SQL block after `<!-- query: name -->` in docs/audit-queries.md. */
function documented(name: string): string {
  const m = new RegExp(`<!-- query: ${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(DOC);
  if (!m) throw new Error(`docs/audit-queries.md has no query ${name}`);
  return m[1]!.trim();
}

/** Rows as objects, for readable assertions. */
const objects = (r: QueryResult): Record<string, unknown>[] => r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));

const h = await startHarness();
t.teardown(() => h.close());
const dir = join(h.logDir, 'decisions');

const contacts = soql('SELECT Id, Name, Email, SSN__c, Tenant__c, Region__c FROM Contact LIMIT 20');
const quote = (discount: number) => ({ Name: `Q-${discount}`, OpportunityId: DEMO_IDS.acmeEuOpportunity, Status: 'Draft', Discount: discount, TotalPrice: 100, Tenant__c: 'acme', Region__c: 'EU' });

// The traffic: every status checked so the trail is what the assertions below expect.
const euRep = await h.tokens('eu-rep');
const globex = await h.tokens('globex-user');
const unmanaged = await h.tokens('eu-rep-unmanaged');
const bot = await h.idp.token('quote-bot');
const traffic: [string, Promise<Response>, number][] = [];
const send = async (what: string, p: Promise<Response>, status: number): Promise<Response> => {
  const res = await p;
  traffic.push([what, Promise.resolve(res), status]);
  return res;
};
const euList = await send('eu-rep lists Contacts', h.call(contacts, { token: euRep.accessToken, posture: euRep.posture }), 200);
const euListBody = (await euList.json()) as { records: { Id: string }[] };
const euRead = await send('eu-rep reads the acme EU Contact', h.call(`${API}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`, { token: euRep.accessToken, posture: euRep.posture }), 200);
await euRead.arrayBuffer();
const globexList = await send('globex-user lists Contacts', h.call(contacts, { token: globex.accessToken, posture: globex.posture }), 200);
const globexListBody = (await globexList.json()) as { records: { Id: string }[] };
await (await send('globex-user reads the acme EU Contact: hidden', h.call(`${API}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`, { token: globex.accessToken, posture: globex.posture }), 404)).arrayBuffer();
await (await send('unmanaged device lists Contacts: denied', h.call(contacts, { token: unmanaged.accessToken, posture: unmanaged.posture }), 403)).arrayBuffer();
await (await send('quote-bot 35% discount: denied', h.call(`${API}/sobjects/Quote`, { method: 'POST', token: bot, body: quote(35) }), 403)).arrayBuffer();
await (await send('quote-bot 15% discount: created', h.call(`${API}/sobjects/Quote`, { method: 'POST', token: bot, body: quote(15) }), 201)).arrayBuffer();
await (await send('quote-bot sends a field the CRM does not know: its 400', h.call(`${API}/sobjects/Quote`, { method: 'POST', token: bot, body: { ...quote(15), Bogus__c: 1 } }), 400)).arrayBuffer();
await (await send('quote-bot reads a Contact: denied', h.call(`${API}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`, { token: bot }), 403)).arrayBuffer();
await (await send('no token: refused', h.call(contacts), 401)).arrayBuffer();

t.test('the traffic got the answers the queries rely on', async (t) => {
  for (const [what, p, status] of traffic) t.equal((await p).status, status, what);
  t.ok(euListBody.records.some((r) => r.Id === DEMO_IDS.acmeEuContact), 'the eu-rep list returned the acme EU Contact');
  t.notOk(globexListBody.records.some((r) => r.Id === DEMO_IDS.acmeEuContact), 'the globex list did not');
  t.ok(globexListBody.records.length > 0, 'the globex list returned rows');
});

t.test('who saw Contact 003… in the last 30 days: exactly the eu-rep subject', async (t) => {
  const sql = documented('who-saw-record');
  t.match(sql, DEMO_IDS.acmeEuContact, 'the documented query names the demo record');
  const r = await runQuery(dir, sql);
  t.strictSame(r.columns, ['subject', 'tenant', 'client_id', 'times', 'first_seen', 'last_seen']);
  t.match(objects(r), [{ subject: 'u-eu-rep', tenant: 'acme', client_id: 'crm-demo-console', times: 2 }]);
  t.equal(r.rows.length, 1, 'nobody else (the globex read was answered 404)');
  t.match(r.types, ['VARCHAR', 'VARCHAR', 'VARCHAR', 'BIGINT', 'TIMESTAMP', 'TIMESTAMP']);
  t.match(r.rows[0]![4], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$/);

  // records_seen holds exactly what each list returned, under the right subject
  const seen = await runQuery(dir, `SELECT subject, list(record_id ORDER BY record_id) AS ids FROM records_seen WHERE action = 'list' GROUP BY subject ORDER BY subject`);
  t.strictSame(objects(seen), [
    { subject: 'u-eu-rep', ids: euListBody.records.map((c) => c.Id).sort() },
    { subject: 'u-globex', ids: globexListBody.records.map((c) => c.Id).sort() },
  ]);
  const read = await runQuery(dir, `SELECT subject, object, record_id, method FROM records_seen WHERE action = 'read'`);
  t.strictSame(objects(read), [{ subject: 'u-eu-rep', object: 'Contact', record_id: DEMO_IDS.acmeEuContact, method: 'GET' }]);
});

t.test('all denials by reason code per tenant this week', async (t) => {
  const r = await runQuery(dir, documented('denials-by-reason'));
  t.strictSame(objects(r), [
    { tenant: 'acme', reason: 'automation.discount_limit', denials: 1, subjects: 1 },
    { tenant: 'acme', reason: 'automation.object_forbidden', denials: 1, subjects: 1 },
    { tenant: 'acme', reason: 'device.unmanaged', denials: 1, subjects: 1 },
    { tenant: null, reason: 'auth.token_missing', denials: 1, subjects: 0 },
  ]);
});

t.test('automations that hit their discount limit', async (t) => {
  const r = await runQuery(dir, documented('discount-limit'));
  t.equal(r.rows.length, 1);
  t.match(objects(r), [{ client_id: 'quote-bot', tenant: 'acme', object: 'Quote', action: 'create', discount: '35', message: /35.*20/ }]);
});

t.test('which policy revision allowed a given request', async (t) => {
  const id = euRead.headers.get('x-decision-id')!;
  t.ok(id, 'the answer names its decision');
  const sql = documented('policy-revision');
  t.match(sql, /'[0-9a-f-]{36}'/, 'the documented query has a decision id to replace');
  const r = await runQuery(dir, sql.replace(/'[0-9a-f-]{36}'/, `'${id}'`));
  const record = (await h.records()).find((x) => x.decision_id === id && x.kind === 'decision')!;
  const bundleSha = createHash('sha256').update(readFileSync(join(ROOT, 'dist', 'bundle.tar.gz'))).digest('hex');
  t.match(objects(r), [{
    decision_id: id,
    subject: 'u-eu-rep',
    method: 'GET',
    path: `/services/data/v60.0/sobjects/Contact/${DEMO_IDS.acmeEuContact}`,
    allow: true,
    reasons: (record.reasons as { code: string }[]).map((x) => x.code),
    policy_revision: (record.bundles as { policy: { revision: string } }).policy.revision,
    archived_bundle: `bundles/${bundleSha}.tar.gz`,
  }]);
  t.match(r.rows[0]![7], /^sha256:[0-9a-f]{32}$/);
  t.equal(r.rows.length, 1);
});

t.test('who received the values of a restricted field', async (t) => {
  const r = await runQuery(dir, documented('field-recipients'));
  t.strictSame(objects(r), [{ subject: 'u-eu-rep', tenant: 'acme', object: 'Contact', field: 'SSN__c', responses: 2 }], 'globex (confidential clearance) had SSN__c removed');
  const removed = await runQuery(dir, `SELECT d.subject, o.fields_removed FROM outcomes o JOIN decisions d USING (decision_id) WHERE d.subject = 'u-globex' AND o.status = 200`);
  t.match(objects(removed), [{ subject: 'u-globex', fields_removed: { Contact: ['SSN__c'] } }]);
});

t.test("an upstream's error answer: its error_body in the outcomes view", async (t) => {
  const r = await runQuery(dir, `SELECT status, upstream_status, error_body FROM outcomes WHERE upstream_status = 400`);
  t.equal(r.rows.length, 1);
  t.match(objects(r), [{ status: 400, upstream_status: 400 }]);
  t.strictSame(r.rows[0]?.[2], { dropped: [], dropped_total: 0 }, 'the CRM error had only error members');
  const none = await runQuery(dir, `SELECT count(*) AS n FROM outcomes WHERE status = 200 AND error_body IS NOT NULL`);
  t.match(objects(none), [{ n: 0 }], 'NULL for answers that were not errors');
});

t.test('the views: decisions, outcomes, denials line up with the raw records', async (t) => {
  const raw = await h.records();
  const counts = await runQuery(dir, `SELECT (SELECT count(*) FROM records) AS records, (SELECT count(*) FROM decisions) AS decisions, (SELECT count(*) FROM outcomes) AS outcomes, (SELECT count(DISTINCT decision_id) FROM denials) AS denied`);
  t.strictSame(objects(counts), [{
    records: raw.length,
    decisions: raw.filter((x) => x.kind === 'decision').length,
    outcomes: raw.filter((x) => x.kind === 'outcome').length,
    denied: raw.filter((x) => x.kind === 'decision' && x.allow === false).length,
  }]);
  const hidden = await runQuery(dir, `SELECT d.subject, o.upstream_status, o.status, o.reason, o.records FROM outcomes o JOIN decisions d USING (decision_id) WHERE o.status = 404`);
  t.strictSame(objects(hidden), [{ subject: 'u-globex', upstream_status: 200, status: 404, reason: 'resource.not_found', records: null }]);
  const bot = await runQuery(dir, `SELECT subject_kind, client_id, action, allow, status, reasons FROM decisions WHERE client_id = 'quote-bot' ORDER BY seq`);
  t.strictSame(objects(bot), [
    { subject_kind: 'automation', client_id: 'quote-bot', action: 'create', allow: false, status: 403, reasons: ['automation.discount_limit'] },
    { subject_kind: 'automation', client_id: 'quote-bot', action: 'create', allow: true, status: null, reasons: ['allow.scope'] },
    { subject_kind: 'automation', client_id: 'quote-bot', action: 'create', allow: true, status: null, reasons: ['allow.scope'] },
    { subject_kind: 'automation', client_id: 'quote-bot', action: 'read', allow: false, status: 403, reasons: ['automation.object_forbidden'] },
  ]);
  const seq = await runQuery(join(dir, 'it'), `SELECT min(seq) AS first, max(seq) AS last, count(*) AS n FROM records`);
  t.strictSame(objects(seq), [{ first: 1, last: raw.length, n: raw.length }], 'an instance folder works as <dir> too');
});

t.test('output formats', async (t) => {
  const r = await runQuery(dir, `SELECT subject, count(*) AS n, list(DISTINCT object) AS objects FROM records_seen GROUP BY subject ORDER BY subject`);
  const [eu, gx] = [String(euListBody.records.length + 1), String(globexListBody.records.length)];
  const w = Math.max(eu.length, gx.length);
  t.equal(formatTable(r), [
    `subject  | ${'n'.padEnd(w)} | objects`,
    `---------+-${'-'.repeat(w)}-+------------`,
    `u-eu-rep | ${eu.padStart(w)} | ["Contact"]`,
    `u-globex | ${gx.padStart(w)} | ["Contact"]`,
    '(2 rows)',
  ].join('\n'), 'aligned, numbers right-aligned, lists as JSON');
  t.equal(formatCsv(r), `subject,n,objects\r\nu-eu-rep,${euListBody.records.length + 1},"[""Contact""]"\r\nu-globex,${globexListBody.records.length},"[""Contact""]"`);
  t.strictSame(JSON.parse(formatJson(r)), [
    { subject: 'u-eu-rep', n: euListBody.records.length + 1, objects: ['Contact'] },
    { subject: 'u-globex', n: globexListBody.records.length, objects: ['Contact'] },
  ]);
  const nulls = await runQuery(dir, `SELECT tenant, reason FROM denials WHERE tenant IS NULL`);
  t.equal(formatCsv(nulls), 'tenant,reason\r\n,auth.token_missing', 'NULL is an empty CSV field');
  t.match(formatTable(nulls), /^NULL\s+\| auth\.token_missing$/m);
});

t.test('queryCommand: formats, bad SQL, usage', async (t) => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await queryCommand(args, (s) => out.push(s), (s) => err.push(s));
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const json = await run([dir, `SELECT reason, count(*) AS n FROM denials GROUP BY reason ORDER BY reason`, '--format', 'json']);
  t.equal(json.code, 0);
  t.strictSame(JSON.parse(json.out), [
    { reason: 'auth.token_missing', n: 1 },
    { reason: 'automation.discount_limit', n: 1 },
    { reason: 'automation.object_forbidden', n: 1 },
    { reason: 'device.unmanaged', n: 1 },
  ]);
  const bad = await run([dir, 'SELEC * FROM decisions']);
  t.equal(bad.code, 1, 'bad SQL → 1');
  t.match(bad.err, /^query: Parser Error: syntax error at or near "SELEC"/);
  const unknown = await run([dir, 'SELECT nope FROM decisions']);
  t.equal(unknown.code, 1);
  t.match(unknown.err, /Binder Error/);
  await t.rejects(runQuery(dir, 'SELECT * FROM no_such_view'), QueryError);
  t.equal((await run([dir])).code, 2, 'no SQL → usage');
  t.equal((await run([dir, 'SELECT 1', '--format', 'xml'])).code, 2, 'unknown format → usage');
  const none = await run([h.logDir, 'SELECT 1']);
  t.equal(none.code, 2, 'a folder without segment files (they are two levels down here) → 2');
  t.match(none.err, /no segment files under/);
});

t.test('the CLI, spawned: CSV of a documented query, and exit 1 on bad SQL', async (t) => {
  const cli = join(ROOT, 'audit', 'cli.ts');
  const ok = spawnSync(process.execPath, [cli, 'query', dir, documented('denials-by-reason'), '--format', 'csv'], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.equal(ok.stdout, [
    'tenant,reason,denials,subjects',
    'acme,automation.discount_limit,1,1',
    'acme,automation.object_forbidden,1,1',
    'acme,device.unmanaged,1,1',
    ',auth.token_missing,1,0',
  ].join('\r\n') + '\n');
  const bad = spawnSync(process.execPath, [cli, 'query', dir, 'SELECT FROM WHERE'], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.equal(bad.stdout, '');
  t.match(bad.stderr, /^query: Parser Error/);
});
