/**
 * The demo's four personas: who they are (token claims, device posture) and what to try with
 * each, with the outcome the demo policy should give. Paths are upstream-relative (what the
 * gateway forwards); the gateway mounts the demo CRM under its route prefix (`/sf`).
 *
 * Claims follow RFC 9068 (JWT access tokens) where it has a name: `sub`, `client_id`, `scope`
 * (space-separated), `roles`; for client-credentials automation `sub` equals `client_id`. The
 * gateway-specific claims are `tenant`, `regions` (array) and `clearance` (a data class).
 */
import { DEMO_IDS } from './crm-data.ts';
import type { DevSigner } from './dev-issuer.ts';

export type PersonaName = 'eu-rep' | 'eu-rep-unmanaged' | 'quote-bot' | 'globex-user';

export type TryThis = {
  /** One line: what the request does and what should happen. */
  readonly what: string;
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Upstream-relative path and query, already percent-encoded as it should go on the wire. */
  readonly path: string;
  /** JSON body of a write. */
  readonly body?: Readonly<Record<string, unknown>>;
  /** The outcome the demo policy should produce: HTTP status and, for refusals, the reason code. */
  readonly expect: { readonly status: number; readonly reason?: string };
};

export type Persona = {
  readonly name: PersonaName;
  readonly description: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly posture?: { readonly managed: boolean; readonly compliant: boolean; readonly platform: string };
  readonly tryThis: readonly TryThis[];
};

/** The API version the demo commands use (the demo CRM accepts any vNN.N). */
export const API_BASE = '/services/data/v60.0';

/** Characters left as they are in a query value: RFC 3986 unreserved plus harmless sub-delims. */
const QUERY_SAFE = /[A-Za-z0-9\-._~!()*,:@/]/;

/**
 * Percent-encodes a query value minimally: spaces as %20 (never '+', which form decoding would
 * turn into a space and a SOQL client would not), quotes, '&', '=', '+', '#', '%' and non-ASCII
 * (as UTF-8); leaves '/', ',', '(' and ')' alone so nothing the gateway considers ambiguous is
 * produced, and the result is safe inside a single-quoted shell word.
 */
export function encodeQueryValue(value: string): string {
  let out = '';
  for (const ch of value) out += QUERY_SAFE.test(ch) ? ch : encodeURIComponent(ch).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return out;
}

/** The upstream-relative path of a SOQL query. */
export function soqlPath(soql: string): string {
  return `${API_BASE}/query?q=${encodeQueryValue(soql)}`;
}

const CONTACT_SOQL = 'SELECT Id, Name, Email, Phone, SSN__c, DateOfBirth__c, Tenant__c, Region__c FROM Contact LIMIT 20';
const OPPORTUNITY_SOQL = 'SELECT Id, Name, StageName, Amount, Tenant__c, Region__c FROM Opportunity LIMIT 20';

const quoteBody = (name: string, discount: number): Record<string, unknown> => ({
  Name: name,
  OpportunityId: DEMO_IDS.acmeEuOpportunity,
  Status: 'Draft',
  Discount: discount,
  TotalPrice: 100 * (100 - discount), // list price 10,000
  Tenant__c: 'acme',
  Region__c: 'EU',
});

const EU_REP_CLAIMS = {
  sub: 'u-eu-rep',
  client_id: 'crm-demo-console',
  name: 'Eve Example (EU sales rep)',
  tenant: 'acme',
  regions: ['EU'],
  roles: ['sales'],
  clearance: 'restricted',
  scope: 'crm.read crm.write',
};

export const PERSONAS: readonly Persona[] = [
  {
    name: 'eu-rep',
    description: 'acme sales rep in the EU, cleared for restricted data, on a managed and compliant Mac',
    claims: EU_REP_CLAIMS,
    posture: { managed: true, compliant: true, platform: 'macos' },
    tryThis: [
      {
        what: 'list Contacts: only the acme EU rows of the page, SSN__c visible, totalSize recomputed',
        method: 'GET',
        path: soqlPath(CONTACT_SOQL),
        expect: { status: 200 },
      },
      {
        what: 'read a globex US Contact: another tenant\'s record is not found',
        method: 'GET',
        path: `${API_BASE}/sobjects/Contact/${DEMO_IDS.globexUsContact}`,
        expect: { status: 404 },
      },
    ],
  },
  {
    name: 'eu-rep-unmanaged',
    description: 'the same EU rep on an unmanaged, non-compliant laptop',
    claims: EU_REP_CLAIMS,
    posture: { managed: false, compliant: false, platform: 'windows' },
    tryThis: [
      {
        what: 'list Contacts naming restricted fields: refused, restricted data needs a managed device',
        method: 'GET',
        path: soqlPath(CONTACT_SOQL),
        expect: { status: 403, reason: 'device.unmanaged' },
      },
      {
        what: 'list Opportunities (no restricted fields): allowed, acme EU rows',
        method: 'GET',
        path: soqlPath(OPPORTUNITY_SOQL),
        expect: { status: 200 },
      },
    ],
  },
  {
    name: 'quote-bot',
    description: 'acme quoting automation (client credentials), EU and US, internal clearance, no device',
    claims: {
      sub: 'quote-bot',
      client_id: 'quote-bot',
      tenant: 'acme',
      regions: ['EU', 'US'],
      roles: [],
      clearance: 'internal',
      scope: 'crm.read crm.write',
    },
    tryThis: [
      {
        what: 'create a Quote with a 35% discount: refused, automation may discount at most 20%',
        method: 'POST',
        path: `${API_BASE}/sobjects/Quote`,
        body: quoteBody('Q-BOT-DEMO-35', 35),
        expect: { status: 403, reason: 'automation.discount_limit' },
      },
      {
        what: 'create a Quote with a 15% discount: created',
        method: 'POST',
        path: `${API_BASE}/sobjects/Quote`,
        body: quoteBody('Q-BOT-DEMO-15', 15),
        expect: { status: 201 },
      },
      {
        what: 'list Opportunities: acme EU and US rows, Amount masked as "***"',
        method: 'GET',
        path: soqlPath(OPPORTUNITY_SOQL),
        expect: { status: 200 },
      },
      {
        what: 'read a Contact: refused, automation may not touch Contacts',
        method: 'GET',
        path: `${API_BASE}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`,
        expect: { status: 403, reason: 'automation.object_forbidden' },
      },
    ],
  },
  {
    name: 'globex-user',
    description: 'globex sales user in the US, confidential clearance, on a managed Windows laptop',
    claims: {
      sub: 'u-globex',
      client_id: 'crm-demo-console',
      name: 'Gus Sample (globex US sales)',
      tenant: 'globex',
      regions: ['US'],
      roles: ['sales'],
      clearance: 'confidential',
      scope: 'crm.read crm.write',
    },
    posture: { managed: true, compliant: true, platform: 'windows' },
    tryThis: [
      {
        what: 'list Contacts: only globex US rows, SSN__c and DateOfBirth__c removed',
        method: 'GET',
        path: soqlPath(CONTACT_SOQL),
        expect: { status: 200 },
      },
      {
        what: 'read the acme EU Contact: another tenant\'s record is not found',
        method: 'GET',
        path: `${API_BASE}/sobjects/Contact/${DEMO_IDS.acmeEuContact}`,
        expect: { status: 404 },
      },
    ],
  },
];

export const PERSONA_NAMES: readonly PersonaName[] = PERSONAS.map((p) => p.name);

/** The persona called `name`, if there is one. */
export function findPersona(name: string): Persona | undefined {
  return PERSONAS.find((p) => p.name === name);
}

export type PersonaTokens = { readonly accessToken: string; readonly posture?: string };

/** Signs a persona's access token and, where it has a device, its posture assertion. */
export async function issuePersonaTokens(signer: DevSigner, persona: Persona): Promise<PersonaTokens> {
  const accessToken = await signer.signAccessToken(persona.claims);
  if (!persona.posture) return { accessToken };
  const posture = await signer.signPosture({ sub: String(persona.claims.sub), ...persona.posture });
  return { accessToken, posture };
}
