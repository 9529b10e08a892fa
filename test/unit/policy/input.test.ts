import t from 'tap';
import { buildInput, queryOf, resourceOf, subjectOf } from '../../../gateway/policy/input.ts';
import type { CanonicalRequest, Principal, Resource } from '../../../gateway/types.ts';

const user: Principal = {
  kind: 'user',
  subject: 'u-eu-rep',
  tenant: 'acme',
  issuer: 'https://idp.example.test',
  roles: ['sales'],
  scopes: ['crm.read', 'crm.write'],
  regions: ['EU'],
  clearance: 'internal',
  claims: { sub: 'u-eu-rep', tenant: 'acme', email: 'rep@acme.example', jti: 'j-1' },
};
const bot: Principal = {
  kind: 'automation',
  subject: 'quote-bot',
  clientId: 'quote-bot',
  tenant: 'acme',
  issuer: 'https://idp.example.test',
  roles: [],
  scopes: ['crm.write'],
  regions: ['EU'],
  clearance: 'confidential',
  claims: { sub: 'quote-bot', client_id: 'quote-bot' },
};
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LWV1LXJlcCJ9.c2ln';
const ASSERTION = 'eyJ0eXAiOiJwb3N0dXJlK2p3dCJ9.e30.c2ln';

function req(method: string, path: string, rawQuery: string): CanonicalRequest {
  return {
    method,
    upstream: 'salesforce',
    path,
    segments: path.slice(1).split('/'),
    rawQuery,
    query: new URLSearchParams(rawQuery),
    headers: new Map([
      ['authorization', `Bearer ${TOKEN}`],
      ['x-device-posture-assertion', ASSERTION],
      ['cookie', 'sid=secret-session'],
      ['accept', 'application/json'],
    ]),
  };
}

const now = new Date('2026-11-25T15:00:00.000Z');

t.test('exact input document for a user', async (t) => {
  const resource: Resource = { adapter: 'salesforce', object: 'Contact', action: 'list', fields: ['Id', 'Name'], filtered: true };
  const input = buildInput({
    principal: user,
    posture: { managed: true, compliant: true, platform: 'macos', risk: 'low', age_s: 42 },
    req: req('GET', '/services/data/v60.0/query', 'q=SELECT+Id,Name+FROM+Contact'),
    resource,
    now,
    gatewayRegion: 'EU',
  });
  t.strictSame(input, {
    subject: { kind: 'user', id: 'u-eu-rep', tenant: 'acme', issuer: 'https://idp.example.test', roles: ['sales'], scopes: ['crm.read', 'crm.write'], regions: ['EU'], clearance: 'internal' },
    device: { managed: true, compliant: true, platform: 'macos', risk: 'low', age_s: 42 },
    request: { method: 'GET', path: '/services/data/v60.0/query', query: { q: ['SELECT Id,Name FROM Contact'] } },
    resource: { adapter: 'salesforce', object: 'Contact', action: 'list', fields: ['Id', 'Name'] },
    env: { now: '2026-11-25T15:00:00.000Z', gateway_region: 'EU' },
  });
  t.equal('client_id' in input.subject, false, 'a user without a client id has no client_id key');
});

t.test('exact input document for an automation write, with the current record', async (t) => {
  const resource: Resource = { adapter: 'salesforce', object: 'Quote', id: '0Q0xx1', action: 'update', body: { Discount: 15, Tenant__c: 'acme' }, filtered: false };
  const input = buildInput({
    principal: bot,
    posture: 'unknown',
    req: req('PATCH', '/services/data/v60.0/sobjects/Quote/0Q0xx1', ''),
    resource,
    current: { Tenant__c: 'acme', Region__c: 'EU' },
    now,
    gatewayRegion: 'US',
  });
  t.strictSame(input, {
    subject: { kind: 'automation', id: 'quote-bot', tenant: 'acme', issuer: 'https://idp.example.test', roles: [], scopes: ['crm.write'], regions: ['EU'], clearance: 'confidential', client_id: 'quote-bot' },
    device: 'unknown',
    request: { method: 'PATCH', path: '/services/data/v60.0/sobjects/Quote/0Q0xx1', query: {} },
    resource: { adapter: 'salesforce', object: 'Quote', action: 'update', id: '0Q0xx1', body: { Discount: 15, Tenant__c: 'acme' }, current: { Tenant__c: 'acme', Region__c: 'EU' } },
    env: { now: '2026-11-25T15:00:00.000Z', gateway_region: 'US' },
  });
});

t.test('a user token that names its client keeps client_id (docs/decision-log.md: "when the token has one")', async (t) => {
  t.strictSame(subjectOf({ ...user, clientId: 'crm-web' }), {
    kind: 'user', id: 'u-eu-rep', tenant: 'acme', issuer: 'https://idp.example.test', roles: ['sales'], scopes: ['crm.read', 'crm.write'], regions: ['EU'], clearance: 'internal', client_id: 'crm-web',
  });
});

t.test('no token, assertion, header or raw claim anywhere in the input', async (t) => {
  const input = buildInput({
    principal: user,
    posture: { managed: true, compliant: true, platform: 'macos', age_s: 0 },
    req: req('GET', '/services/data/v60.0/sobjects/Contact/003xx', 'a=1'),
    resource: { adapter: 'salesforce', object: 'Contact', id: '003xx', action: 'read', filtered: true },
    now,
    gatewayRegion: 'EU',
  });
  const text = JSON.stringify(input);
  for (const secret of [TOKEN, 'Bearer', ASSERTION, 'secret-session', 'application/json', 'rep@acme.example', 'j-1', 'authorization', 'headers', 'claims', 'filtered', 'segments', 'rawQuery']) {
    t.equal(text.includes(secret), false, `no ${secret}`);
  }
  t.strictSame(Object.keys(input).sort(), ['device', 'env', 'request', 'resource', 'subject']);
  t.strictSame(Object.keys(input.request).sort(), ['method', 'path', 'query']);
});

t.test('query: every value as an array, in order, decoded once', async (t) => {
  const cases: [string, Record<string, string[]>][] = [
    ['', {}],
    ['a=1', { a: ['1'] }],
    ['a=1&a=2&b=3&a=0', { a: ['1', '2', '0'], b: ['3'] }],
    ['flag', { flag: [''] }],
    ['a=&a=', { a: ['', ''] }],
    ['q=x+y%2Bz%26w', { q: ['x y+z&w'] }],
    ['%24filter=name%20eq%20%27a%27&%24top=5', { $filter: ["name eq 'a'"], $top: ['5'] }],
    ['properties=email&properties=firstname', { properties: ['email', 'firstname'] }],
  ];
  for (const [raw, want] of cases) t.strictSame(queryOf(new URLSearchParams(raw)), want, raw || '(empty)');
});

t.test('query parameters named like Object.prototype members are plain keys', async (t) => {
  for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
    let got: unknown;
    try {
      got = queryOf(new URLSearchParams(`${name}=1&${name}=2`));
    } catch (err) {
      got = `threw ${(err as Error).name}: ${(err as Error).message}`;
    }
    t.strictSame(got && typeof got === 'object' ? Object.entries(got) : got, [[name, ['1', '2']]], name);
  }
});

t.test('input values are copies, not the principal’s or resource’s own arrays', async (t) => {
  const roles = ['sales'];
  const s = subjectOf({ ...user, roles });
  (s.roles as string[]).push('admin');
  t.strictSame(roles, ['sales']);
  const fields = ['Id'];
  const r = resourceOf({ adapter: 'salesforce', object: 'Contact', action: 'list', fields, filtered: true });
  (r.fields as string[]).push('SSN__c');
  t.strictSame(fields, ['Id']);
  t.strictSame(
    resourceOf({ adapter: 'salesforce', object: 'Contact', action: 'list', fields: ['Id'], filterFields: ['Name', 'Account.Name', 'Name', 'Email'], filtered: true }),
    { adapter: 'salesforce', object: 'Contact', action: 'list', fields: ['Id'], filter_fields: ['Account.Name', 'Email', 'Name'] },
    'filter fields sorted and unique',
  );
  t.equal('filter_fields' in resourceOf({ adapter: 'salesforce', object: 'Contact', action: 'list', filterFields: [], filtered: true }), false, 'no filter_fields key when there are none');
  t.strictSame(resourceOf({ adapter: 'generic-json', object: 'Deal', action: 'read', filtered: false }), { adapter: 'generic-json', object: 'Deal', action: 'read' }, 'optional keys left out, not null');
});
