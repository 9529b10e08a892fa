import t from 'tap';
import { testIssuer } from '../../fixtures/issuer-config.ts';
import { principalFromClaims } from '../../../gateway/identity/principal.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import type { IssuerConfig } from '../../../gateway/config/load.ts';

const issuer: IssuerConfig = testIssuer({ issuer: 'https://idp.example.test', audience: 'crm-gateway' });

const codeOf = (claims: Record<string, unknown>, is: IssuerConfig = issuer): string => {
  const r = principalFromClaims(claims, is);
  return isRefusal(r) ? r.code : `accepted as ${r.kind}`;
};

t.test('a user token becomes a user principal, exactly', async (t) => {
  const claims = { sub: 'u-eu-rep', tenant: 'acme', roles: ['sales'], regions: ['EU'], scope: 'crm.read crm.write', clearance: 'internal', exp: 1 };
  t.strictSame(principalFromClaims(claims, issuer), {
    kind: 'user',
    subject: 'u-eu-rep',
    tenant: 'acme',
    issuer: 'https://idp.example.test',
    roles: ['sales'],
    scopes: ['crm.read', 'crm.write'],
    regions: ['EU'],
    clearance: 'internal',
    claims,
  });
});

t.test('client_id equal to sub is an automation; a different sub is a user', async (t) => {
  const bot = principalFromClaims({ sub: 'quote-bot', client_id: 'quote-bot', tenant: 'acme', scope: 'crm.read' }, issuer);
  t.strictSame(bot, {
    kind: 'automation',
    subject: 'quote-bot',
    tenant: 'acme',
    issuer: 'https://idp.example.test',
    roles: [],
    scopes: ['crm.read'],
    regions: [],
    clearance: 'public',
    claims: { sub: 'quote-bot', client_id: 'quote-bot', tenant: 'acme', scope: 'crm.read' },
    clientId: 'quote-bot',
  });
  const user = principalFromClaims({ sub: 'u-1', client_id: 'crm-web', tenant: 'acme' }, issuer);
  t.equal(isRefusal(user) ? user.code : user.kind, 'user');
  t.equal(isRefusal(user) ? user.code : user.clientId, 'crm-web', 'the client id is kept for a user too');
  const azp = principalFromClaims({ sub: 'svc', azp: 'svc', tenant: 'acme' }, issuer);
  t.equal(isRefusal(azp) ? azp.code : azp.kind, 'automation', 'azp stands in for client_id');
  const noClient = principalFromClaims({ sub: 'u-1', tenant: 'acme' }, issuer);
  t.equal(isRefusal(noClient) ? noClient.code : noClient.kind, 'user');
  t.equal(isRefusal(noClient) ? noClient.code : 'clientId' in noClient, false, 'no clientId key at all');
  const emptyClient = principalFromClaims({ sub: 'u-1', client_id: '', tenant: 'acme' }, issuer);
  t.equal(isRefusal(emptyClient) ? emptyClient.code : 'clientId' in emptyClient, false, 'empty client_id is no client id');
  t.equal(codeOf({ sub: 'X', client_id: 'x', tenant: 'acme' }), 'accepted as user', 'compared case-sensitively');
});

t.test('list claims: arrays or space-separated strings, sorted and deduplicated', async (t) => {
  const cases: [string, Record<string, unknown>, { roles: string[]; regions: string[]; scopes: string[] }][] = [
    ['arrays sorted', { roles: ['sales', 'admin'], regions: ['US', 'EU'], scope: ['z', 'a'] }, { roles: ['admin', 'sales'], regions: ['EU', 'US'], scopes: ['a', 'z'] }],
    ['arrays deduped', { roles: ['sales', 'sales'], regions: ['EU', 'EU', 'US'], scope: ['a', 'a'] }, { roles: ['sales'], regions: ['EU', 'US'], scopes: ['a'] }],
    ['strings split', { roles: 'sales admin', regions: 'US EU', scope: 'crm.write crm.read' }, { roles: ['admin', 'sales'], regions: ['EU', 'US'], scopes: ['crm.read', 'crm.write'] }],
    ['strings with extra spaces', { roles: ' sales  admin ', scope: '  ' }, { roles: ['admin', 'sales'], regions: [], scopes: [] }],
    ['strings deduped', { roles: 'sales sales', regions: 'EU EU', scope: 'crm.read crm.read' }, { roles: ['sales'], regions: ['EU'], scopes: ['crm.read'] }],
    ['absent', {}, { roles: [], regions: [], scopes: [] }],
    ['scp instead of scope', { scp: ['b', 'a'] }, { roles: [], regions: [], scopes: ['a', 'b'] }],
    ['empty array', { roles: [] }, { roles: [], regions: [], scopes: [] }],
  ];
  for (const [name, extra, want] of cases) {
    const p = principalFromClaims({ sub: 'u', tenant: 'acme', ...extra }, issuer);
    if (isRefusal(p)) {
      t.fail(`${name}: refused with ${p.code}`);
      continue;
    }
    t.strictSame({ roles: p.roles, regions: p.regions, scopes: p.scopes }, want, name);
  }
});

t.test('list claims of the wrong type are refused', async (t) => {
  for (const [name, extra] of [
    ['roles number', { roles: 1 }],
    ['roles array with a number', { roles: ['a', 2] }],
    ['regions object', { regions: { EU: true } }],
    ['scope array with null', { scope: ['a', null] }],
  ] as const) {
    t.equal(codeOf({ sub: 'u', tenant: 'acme', ...extra }), 'GW_ERR_AUTH_CLAIMS_INVALID', name);
  }
});

t.test('claim names come from the issuer configuration', async (t) => {
  const custom: IssuerConfig = { ...issuer, claims: { tenant: 'org', regions: 'geo', roles: 'groups', clearance: 'level' } };
  const p = principalFromClaims({ sub: 'u', org: 'globex', geo: ['US'], groups: 'viewer', level: 'confidential', tenant: 'ignored', roles: ['admin'] }, custom);
  if (isRefusal(p)) return t.fail(p.code);
  t.strictSame([p.tenant, p.regions, p.roles, p.clearance], ['globex', ['US'], ['viewer'], 'confidential']);
  t.equal(codeOf({ sub: 'u', tenant: 'acme' }, custom), 'GW_ERR_AUTH_CLAIMS_INVALID', 'tenant claim of another name is not read');
});

t.test('clearance: default public, each valid value, invalid refused', async (t) => {
  const clearance = (c: unknown) => {
    const p = principalFromClaims({ sub: 'u', tenant: 'acme', ...(c === undefined ? {} : { clearance: c }) }, issuer);
    return isRefusal(p) ? p.code : p.clearance;
  };
  t.equal(clearance(undefined), 'public');
  for (const c of ['public', 'internal', 'confidential', 'restricted']) t.equal(clearance(c), c);
  for (const c of ['top-secret', 'Restricted', '', 3, null, ['restricted']]) t.equal(clearance(c), 'GW_ERR_AUTH_CLAIMS_INVALID', JSON.stringify(c));
});

t.test('missing or empty sub / tenant', async (t) => {
  t.equal(codeOf({ tenant: 'acme' }), 'GW_ERR_AUTH_CLAIMS_INVALID', 'no sub');
  t.equal(codeOf({ sub: '', tenant: 'acme' }), 'GW_ERR_AUTH_CLAIMS_INVALID', 'empty sub');
  t.equal(codeOf({ sub: 42, tenant: 'acme' }), 'GW_ERR_AUTH_CLAIMS_INVALID', 'numeric sub');
  t.equal(codeOf({ sub: 'u' }), 'GW_ERR_AUTH_CLAIMS_INVALID', 'no tenant');
  t.equal(codeOf({ sub: 'u', tenant: '' }), 'GW_ERR_AUTH_CLAIMS_INVALID', 'empty tenant');
  t.equal(codeOf({ sub: 'u', tenant: ['acme'] }), 'GW_ERR_AUTH_CLAIMS_INVALID', 'tenant array');
  const r = principalFromClaims({ sub: 'u' }, issuer);
  t.strictSame(r, { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: 'claim tenant (tenant) must be a non-empty string' });
});

t.test('sub, tenant and client_id: printable ASCII, at most 256 characters', async (t) => {
  const bad = ['a\r\nX-Injected: 1', 'a\u0000b', 'a\tb', 'a\u007fb', 'café', 'ü', 'a\u2028b', ' lead', 'trail ', ' ', 'x'.repeat(257), '\u{1F600}'];
  for (const name of ['sub', 'tenant', 'client_id'] as const) {
    for (const v of bad) {
      const claims: Record<string, unknown> = { sub: 'u', tenant: 'acme', [name]: v };
      const r = principalFromClaims(claims, issuer);
      t.strictSame(r, { refusal: true, code: 'GW_ERR_AUTH_CLAIMS_INVALID', detail: `claim ${name} must be 1-256 printable ASCII characters` }, `${name} = ${escape(v).slice(0, 40)}`);
    }
  }
  for (const v of ['x'.repeat(256), 'a', 'a b', 'user@example.com', '!~']) {
    t.equal(codeOf({ sub: v, tenant: v, client_id: v }), 'accepted as automation', `accepted: ${v.slice(0, 20)} (${v.length})`);
  }
});
