/**
 * Micro-benchmark of the policy alone: the engine the gateway uses (gateway/policy/engine.ts on
 * dist/bundle.tar.gz) evaluating a handful of realistic inputs, each timed call by call.
 *
 *   npm run build && npm exec -- node bench/policy-inputs.ts [--iterations N] [--warmup N] [--bundle PATH] [--only NAME] [--json]
 *
 * Reports p50/p99 (µs) per input. `evaluate` includes what the gateway pays per decision: the JSON
 * round trip into Wasm and the decision-contract check. The inputs are written out the way
 * gateway/policy/input.ts builds them (subject, device, request, resource, env).
 */
import * as hdr from 'hdr-histogram-js';
import { createPolicyEngine } from '../gateway/policy/engine.ts';
import { isRefusal } from '../gateway/errors.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const iterations = Number(arg('--iterations', '20000'));
const warmup = Number(arg('--warmup', '2000'));
const bundlePath = arg('--bundle', 'dist/bundle.tar.gz');
const asJson = args.includes('--json');
/** Only the inputs whose name contains this string (e.g. for --cpu-prof of one input). */
const only = arg('--only', '');

const CONTACT_FIELDS = ['Id', 'Name', 'Title', 'AccountId', 'Email', 'Phone', 'SSN__c', 'DateOfBirth__c', 'Tenant__c', 'Region__c'];
const CONTACT_SOQL = `SELECT ${CONTACT_FIELDS.join(', ')} FROM Contact LIMIT 50`;
const env = { now: '2026-11-25T15:00:00.000Z', gateway_region: 'EU' };
const query = (soql: string) => ({ method: 'GET', path: '/services/data/v60.0/query', query: { q: [soql] } });

const euRep = {
  kind: 'user',
  id: 'u-eu-rep',
  tenant: 'acme',
  issuer: 'https://idp.example.test',
  roles: ['sales'],
  scopes: ['crm.read', 'crm.write'],
  regions: ['EU'],
  clearance: 'restricted',
  client_id: 'crm-demo-console',
};
const globexUser = { ...euRep, id: 'u-globex', tenant: 'globex', regions: ['US'], clearance: 'confidential' };
const quoteBot = {
  kind: 'automation',
  id: 'quote-bot',
  tenant: 'acme',
  issuer: 'https://idp.example.test',
  roles: [],
  scopes: ['crm.read', 'crm.write'],
  regions: ['EU', 'US'],
  clearance: 'internal',
  client_id: 'quote-bot',
};
const mac = { managed: true, compliant: true, platform: 'macos' };

export const INPUTS: Readonly<Record<string, unknown>> = {
  // eu-rep (restricted clearance, managed Mac) lists Contacts naming 10 fields: allow, rows only.
  'eu-rep Contact list (10 fields)': {
    subject: euRep,
    device: mac,
    request: query(CONTACT_SOQL),
    resource: { adapter: 'salesforce', object: 'Contact', action: 'list', fields: CONTACT_FIELDS },
    env,
  },
  // globex-user (confidential) same query: allow, rows + field rules removing SSN__c / DateOfBirth__c.
  'globex-user Contact list (field rules)': {
    subject: globexUser,
    device: { managed: true, compliant: true, platform: 'windows' },
    request: query(CONTACT_SOQL),
    resource: { adapter: 'salesforce', object: 'Contact', action: 'list', fields: CONTACT_FIELDS },
    env: { ...env, gateway_region: 'US' },
  },
  // quote-bot creates a Quote with a 15% discount: allow by scope, discount within the limit.
  'quote-bot POST Quote (Discount 15)': {
    subject: quoteBot,
    device: 'unknown',
    request: { method: 'POST', path: '/services/data/v60.0/sobjects/Quote', query: {} },
    resource: { adapter: 'salesforce', object: 'Quote', action: 'create', body: { Discount: 15, Tenant__c: 'acme', Region__c: 'EU' } },
    env,
  },
  // The EU rep on an unmanaged laptop, same Contact query: device.unmanaged.
  'eu-rep unmanaged Contact list (deny)': {
    subject: euRep,
    device: { managed: false, compliant: false, platform: 'windows' },
    request: query(CONTACT_SOQL),
    resource: { adapter: 'salesforce', object: 'Contact', action: 'list', fields: CONTACT_FIELDS },
    env,
  },
  // globex-user filters and sorts: WHERE Region__c = 'US' AND Account.Industry = 'Energy' ORDER BY Name.
  'globex-user Contact list with filter_fields': {
    subject: globexUser,
    device: { managed: true, compliant: true, platform: 'windows' },
    request: query("SELECT Id, Name, Email FROM Contact WHERE Region__c = 'US' AND Account.Industry = 'Energy' ORDER BY Name"),
    resource: {
      adapter: 'salesforce',
      object: 'Contact',
      action: 'list',
      fields: ['Id', 'Name', 'Email'],
      filter_fields: ['Account.Industry', 'Name', 'Region__c'],
    },
    env: { ...env, gateway_region: 'US' },
  },
};

const engine = await createPolicyEngine({ bundlePath, entrypoint: 'crm/authz/decision', memoryInitialPages: 64, memoryMaximumPages: 4096 });
const us = (ns: number) => Math.round(ns / 10) / 100;
const rows: Record<string, unknown>[] = [];
for (const [name, input] of Object.entries(INPUTS)) {
  if (only && !name.includes(only)) continue;
  const first = engine.evaluate(input);
  if (isRefusal(first)) throw new Error(`${name}: evaluation failed: ${first.code} ${first.detail ?? ''}`);
  for (let i = 0; i < warmup; i++) engine.evaluate(input);
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    engine.evaluate(input);
    h.recordValue(Number(process.hrtime.bigint() - t0));
  }
  rows.push({
    input: name,
    allow: first.allow,
    reasons: first.reasons.map((r) => r.code).join(','),
    p50: us(h.getValueAtPercentile(50)),
    p99: us(h.getValueAtPercentile(99)),
    mean: us(h.mean),
    decision: JSON.stringify(first),
  });
  h.destroy();
}
const status = engine.status();
if (status.errors > 0) throw new Error(`${status.errors} evaluation errors`);

if (asJson) {
  console.log(JSON.stringify({ bundle: bundlePath, revision: engine.revision, iterations, rows }, null, 1));
} else {
  console.log(`${bundlePath} (${engine.revision}), ${iterations} calls per input after ${warmup} warm-up, µs`);
  console.table(rows.map(({ decision: _d, ...r }) => r));
}
