import t from 'tap';
import { testIssuer } from '../../fixtures/issuer-config.ts';
import { claimsOfIntrospection } from '../../../gateway/identity/introspect.ts';
import { isRefusal } from '../../../gateway/errors.ts';
import type { IssuerConfig } from '../../../gateway/config/load.ts';

const cfg: IssuerConfig = testIssuer({ issuer: 'https://idp.example', audience: ['crm-gateway', 'other'] });
const NOW = 1_700_000_000_000;
const nowS = NOW / 1000;
const active = (extra: Record<string, unknown> = {}) => ({ active: true, iss: cfg.issuer, aud: 'crm-gateway', client_id: 'bot', exp: nowS + 300, tenant: 'acme', token_type: 'Bearer', ...extra });
const codeOf = (res: Record<string, unknown>): string => {
  const r = claimsOfIntrospection(res, cfg, NOW);
  return isRefusal(r) ? r.code : 'ok';
};

t.test('active responses become claims; sub defaults to client_id; exp sets the expiry', async (t) => {
  const r = claimsOfIntrospection(active(), cfg, NOW);
  if (isRefusal(r)) return t.fail(r.code);
  t.equal(r.claims.sub, 'bot');
  t.notOk('active' in r.claims);
  t.equal(r.expiresAtMs, (nowS + 300) * 1000);
  const user = claimsOfIntrospection(active({ sub: 'u-1', exp: undefined, iss: undefined, aud: ['x', 'other'] }), cfg, NOW);
  if (isRefusal(user)) return t.fail(user.code);
  t.equal(user.claims.sub, 'u-1', 'a user token keeps its sub');
  t.equal(user.expiresAtMs, undefined, 'no exp: the cache bound alone applies');
});

t.test('refusals', async (t) => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['inactive', { active: false }, 'GW_ERR_AUTH_TOKEN_INACTIVE'],
    ['active as a string', { ...active(), active: 'true' }, 'GW_ERR_AUTH_TOKEN_INACTIVE'],
    ['another issuer', active({ iss: 'https://evil.example' }), 'GW_ERR_AUTH_ISSUER_UNTRUSTED'],
    ['no aud', active({ aud: undefined }), 'GW_ERR_AUTH_AUDIENCE_MISMATCH'],
    ['foreign aud', active({ aud: ['billing'] }), 'GW_ERR_AUTH_AUDIENCE_MISMATCH'],
    ['aud of the wrong type', active({ aud: 7 }), 'GW_ERR_AUTH_AUDIENCE_MISMATCH'],
    ['expired beyond the tolerance', active({ exp: nowS - 31 }), 'GW_ERR_AUTH_TOKEN_EXPIRED'],
    ['nbf in the future', active({ nbf: nowS + 120 }), 'GW_ERR_AUTH_TOKEN_NOT_YET_VALID'],
    ['exp not a number', active({ exp: 'soon' }), 'GW_ERR_AUTH_CLAIMS_INVALID'],
    ['DPoP token type', active({ token_type: 'DPoP' }), 'GW_ERR_AUTH_WRONG_TOKEN_TYPE'],
    ['sender-constrained', active({ cnf: { jkt: 'x' } }), 'GW_ERR_AUTH_WRONG_TOKEN_TYPE'],
  ];
  for (const [name, res, code] of cases) t.equal(codeOf(res), code, name);
  t.equal(codeOf(active({ exp: nowS - 29 })), 'ok', 'expired within the tolerance');
  t.equal(codeOf(active({ token_type: 'bearer' })), 'ok', 'token_type is case-insensitive');
});
