import t from 'tap';
import { GATEWAY_HEADERS, upstreamHeaders } from '../../gateway/upstream-headers.ts';
import type { CanonicalRequest, Principal } from '../../gateway/types.ts';

const user: Principal = { kind: 'user', subject: 'u-eu-rep', tenant: 'acme', issuer: 'https://idp', roles: [], scopes: [], regions: [], clearance: 'public', claims: {} };
const bot: Principal = { ...user, kind: 'automation', subject: 'quote-bot', clientId: 'quote-bot' };

function req(headers: [string, string][]): CanonicalRequest {
  return { method: 'GET', upstream: 'sf', path: '/x', segments: ['x'], rawQuery: '', query: new URLSearchParams(), headers: new Map(headers) };
}
const base: [string, string][] = [
  ['host', 'gw.example'],
  ['authorization', 'Bearer eyJ.x.y'],
  ['x-device-posture-assertion', 'eyJ.p.q'],
  ['accept', 'application/json'],
  ['accept-encoding', 'gzip, br'],
  ['content-type', 'application/json'],
  ['x-request-id', 'r-1'],
];
const args = (o: Partial<Parameters<typeof upstreamHeaders>[0]> = {}) => ({
  req: req(base),
  principal: user,
  decisionId: 'd-1',
  postureHeader: 'x-device-posture-assertion',
  forwardAuthorization: false,
  filtered: false,
  ...o,
});

t.test('the header names', async (t) => {
  t.strictSame(GATEWAY_HEADERS, { subject: 'x-gateway-subject', tenant: 'x-gateway-tenant', clientId: 'x-gateway-client-id', decisionId: 'x-gateway-decision-id' });
});

t.test('exact headers for a user: host, posture and authorization removed, gateway headers added', async (t) => {
  t.strictSame(upstreamHeaders(args()), {
    accept: 'application/json',
    'accept-encoding': 'gzip, br',
    'content-type': 'application/json',
    'x-request-id': 'r-1',
    'x-gateway-subject': 'u-eu-rep',
    'x-gateway-tenant': 'acme',
    'x-gateway-decision-id': 'd-1',
  });
});

t.test('automation: client id header; forwardAuthorization keeps the bearer; filtered asks for identity encoding', async (t) => {
  t.strictSame(upstreamHeaders(args({ principal: bot, forwardAuthorization: true, filtered: true })), {
    authorization: 'Bearer eyJ.x.y',
    accept: 'application/json',
    'accept-encoding': 'identity',
    'content-type': 'application/json',
    'x-request-id': 'r-1',
    'x-gateway-subject': 'quote-bot',
    'x-gateway-tenant': 'acme',
    'x-gateway-client-id': 'quote-bot',
    'x-gateway-decision-id': 'd-1',
  });
});

t.test('filtered adds accept-encoding: identity even when the client sent none', async (t) => {
  const h = upstreamHeaders(args({ req: req([['accept', '*/*']]), filtered: true }));
  t.equal(h['accept-encoding'], 'identity');
  t.equal('accept-encoding' in upstreamHeaders(args({ req: req([['accept', '*/*']]) })), false);
});

t.test('a configured posture header name is removed, the default one is then an ordinary header', async (t) => {
  const h = upstreamHeaders(args({ req: req([...base, ['x-posture', 'jws']]), postureHeader: 'x-posture' }));
  t.equal('x-posture' in h, false);
  t.equal(h['x-device-posture-assertion'], 'eyJ.p.q');
});

t.test('gateway headers are set last and override anything of the same name', async (t) => {
  const spoofed = req([
    ...base,
    ['x-gateway-subject', 'admin'],
    ['x-gateway-tenant', 'globex'],
    ['x-gateway-decision-id', 'forged'],
    ['x-gateway-client-id', 'quote-bot'],
  ]);
  const forBot = upstreamHeaders(args({ req: spoofed, principal: bot }));
  t.strictSame(
    [forBot['x-gateway-subject'], forBot['x-gateway-tenant'], forBot['x-gateway-decision-id'], forBot['x-gateway-client-id']],
    ['quote-bot', 'acme', 'd-1', 'quote-bot'],
  );
  t.equal(Object.keys(forBot).filter((k) => k.startsWith('x-gateway-')).length, 4, 'one of each, no second copy');
  // A user has no client id: no client-supplied x-gateway-client-id may survive either.
  const forUser = upstreamHeaders(args({ req: spoofed, principal: user }));
  t.strictSame([forUser['x-gateway-subject'], forUser['x-gateway-tenant'], forUser['x-gateway-decision-id']], ['u-eu-rep', 'acme', 'd-1']);
  t.equal(forUser['x-gateway-client-id'], undefined, 'no x-gateway-client-id for a user');
});

t.test('filtered: Range and conditional headers removed (a 206 or 304 has no whole body to filter)', async (t) => {
  const cond: [string, string][] = [
    ['range', 'bytes=0-99'],
    ['if-range', '"e1"'],
    ['if-none-match', '"e1"'],
    ['if-modified-since', 'Wed, 21 Oct 2015 07:28:00 GMT'],
    ['if-match', '"e1"'],
    ['if-unmodified-since', 'Wed, 21 Oct 2015 07:28:00 GMT'],
  ];
  const filtered = upstreamHeaders(args({ req: req([['accept', '*/*'], ...cond]), filtered: true }));
  t.strictSame(filtered, { accept: '*/*', 'accept-encoding': 'identity', 'x-gateway-subject': 'u-eu-rep', 'x-gateway-tenant': 'acme', 'x-gateway-decision-id': 'd-1' });
  const passThrough = upstreamHeaders(args({ req: req([['accept', '*/*'], ...cond]), filtered: false }));
  for (const [name, value] of cond) t.equal(passThrough[name], value, `${name} kept when not filtered`);
});

t.test('the canonical request is not changed', async (t) => {
  const r = req(base);
  upstreamHeaders(args({ req: r, filtered: true }));
  t.strictSame([...r.headers], base);
});

t.test("the gateway's own forwarding headers name the client address it determined", async (t) => {
  const v4 = upstreamHeaders(args({ req: { ...req([...base, ['x-forwarded-for', '6.6.6.6']]), clientAddress: '203.0.113.9' } }));
  t.equal(v4['x-forwarded-for'], '203.0.113.9', 'replaces anything in the canonical map');
  t.equal(v4.forwarded, 'for=203.0.113.9');
  const v6 = upstreamHeaders(args({ req: { ...req(base), clientAddress: '2001:db8::1' } }));
  t.equal(v6['x-forwarded-for'], '2001:db8::1');
  t.equal(v6.forwarded, 'for="[2001:db8::1]"', 'RFC 7239 §6: IPv6 quoted and bracketed');
  const none = upstreamHeaders(args());
  t.notOk('x-forwarded-for' in none || 'forwarded' in none, 'none without an address');
});

t.test('token exchange: the exchanged token is the only Authorization; the caller token and DPoP proof never go', async (t) => {
  const withDpop = req([...base, ['dpop', 'eyJ.proof.sig']]);
  const h = upstreamHeaders(args({ req: withDpop, exchangedToken: 'eyJ.exchanged.sig' }));
  t.equal(h.authorization, 'Bearer eyJ.exchanged.sig');
  t.equal(h.dpop, undefined);
  t.notOk(JSON.stringify(h).includes('eyJ.x.y'), 'the caller token is nowhere');
  const forwarding = upstreamHeaders(args({ req: withDpop, forwardAuthorization: true, exchangedToken: 'eyJ.exchanged.sig' }));
  t.equal(forwarding.authorization, 'Bearer eyJ.exchanged.sig', 'the exchanged token wins even over forwardAuthorization');
  t.equal(forwarding.dpop, undefined);
  t.equal(upstreamHeaders(args()).authorization, undefined, 'without exchange: unchanged behaviour');
});

t.test('unfiltered routes ask only for codings the gateway can decode (their error answers are read)', async (t) => {
  const h = (ae: string, filtered: boolean) => upstreamHeaders(args({ req: req([...base, ['accept-encoding', ae]]), filtered }))['accept-encoding'];
  t.equal(h('gzip, zstd;q=1.0, br, *', false), 'gzip, br');
  t.equal(h('GZIP;q=0.5, deflate', false), 'GZIP;q=0.5, deflate');
  t.equal(h('zstd, *', false), 'identity', 'none decodable: identity (no header would allow any)');
  t.equal(h('gzip, br', true), 'identity', 'filtered routes: identity, as before');
});

t.test('Sforce-Duplicate-Rule-Header keeps runAsCurrentUser only (never includeRecordDetails or allowSave)', async (t) => {
  const h = (v: string) => upstreamHeaders(args({ req: req([...base, ['sforce-duplicate-rule-header', v]]), filtered: false }))['sforce-duplicate-rule-header'];
  t.equal(h('allowSave=true; includeRecordDetails=true; runAsCurrentUser=true'), 'runAsCurrentUser=true');
  t.equal(h(' RUNASCURRENTUSER = FALSE ;includeRecordDetails=true'), 'runAsCurrentUser=false');
  t.equal(h('includeRecordDetails=true; allowSave=true'), undefined, 'nothing left: no header');
  t.equal(h('runAsCurrentUser=yes; extra=1'), undefined, 'values other than true/false, and other fields, are dropped');
});
