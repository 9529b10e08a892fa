/**
 * Verified token claims → Principal. Pure. A client-credentials token (RFC 9068: `client_id`
 * present and `sub` equal to it, no end user) becomes an automation principal.
 */
import { refuse } from '../errors.ts';
import type { Principal, Refusal } from '../types.ts';
import type { IssuerConfig } from '../config/load.ts';

const CLEARANCES = new Set(['public', 'internal', 'confidential', 'restricted']);

/** A list claim may be a JSON array of strings or one space-separated string (as `scope` is). */
function stringList(v: unknown, name: string): string[] | string {
  if (v === undefined) return [];
  if (typeof v === 'string') return [...new Set(v.split(' ').filter((s) => s !== ''))];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return [...new Set(v as string[])];
  return `claim ${name} must be a string or an array of strings`;
}

export function principalFromClaims(claims: Readonly<Record<string, unknown>>, issuer: IssuerConfig): Principal | Refusal {
  const bad = (why: string) => refuse('GW_ERR_AUTH_CLAIMS_INVALID', why);
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') return bad('claim sub must be a non-empty string');
  const tenant = claims[issuer.claims.tenant];
  if (typeof tenant !== 'string' || tenant === '') return bad(`claim ${issuer.claims.tenant} (tenant) must be a non-empty string`);
  const roles = stringList(claims[issuer.claims.roles], issuer.claims.roles);
  if (typeof roles === 'string') return bad(roles);
  const regions = stringList(claims[issuer.claims.regions], issuer.claims.regions);
  if (typeof regions === 'string') return bad(regions);
  const scopes = stringList(claims.scope ?? claims.scp, 'scope');
  if (typeof scopes === 'string') return bad(scopes);
  const clearanceClaim = claims[issuer.claims.clearance];
  if (clearanceClaim !== undefined && (typeof clearanceClaim !== 'string' || !CLEARANCES.has(clearanceClaim))) {
    return bad(`claim ${issuer.claims.clearance} must be one of public, internal, confidential, restricted`);
  }
  const clientIdClaim = claims.client_id ?? claims.azp;
  const clientId = typeof clientIdClaim === 'string' && clientIdClaim !== '' ? clientIdClaim : undefined;
  // These three are copied into upstream headers: printable ASCII only, so no claim can inject
  // a header line or be read differently by the upstream's HTTP parser.
  for (const [name, v] of [['sub', sub], ['tenant', tenant], ['client_id', clientId]] as const) {
    if (v !== undefined && !/^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/.test(v)) {
      return bad(`claim ${name} must be 1-256 printable ASCII characters`);
    }
  }
  const automation = clientId !== undefined && clientId === sub;
  const p: { -readonly [K in keyof Principal]: Principal[K] } = {
    kind: automation ? 'automation' : 'user',
    subject: sub,
    tenant,
    issuer: issuer.issuer,
    roles: roles.sort(),
    scopes: scopes.sort(),
    regions: regions.sort(),
    clearance: (clearanceClaim as string | undefined) ?? 'public',
    claims,
  };
  if (clientId !== undefined) p.clientId = clientId;
  return p;
}
