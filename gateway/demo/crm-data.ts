/**
 * A deterministic, obviously synthetic Salesforce-shaped dataset for the embedded demo and the
 * tests: two tenants × two regions, four objects. Nothing is random: every value is derived from
 * the record's index, so two runs (and two processes) see byte-identical data and tests can name
 * stable ids.
 *
 * Records are interleaved by cell (acme/EU, acme/US, globex/EU, globex/US, acme/EU, …) so that an
 * unfiltered `LIMIT n` query already mixes tenants and regions: the gateway's row filter has
 * something to remove on every page.
 */

export type SObjectName = 'Account' | 'Contact' | 'Opportunity' | 'Quote';
export type Tenant = 'acme' | 'globex';
export type Region = 'EU' | 'US';

/** One flat record; field values are strings or numbers, as Salesforce returns them in JSON. */
export type CrmRecord = { readonly Id: string; readonly [field: string]: string | number | null };

export type CrmDataset = { readonly [O in SObjectName]: readonly CrmRecord[] };

/** The fields of each object, in the order Salesforce would describe them. */
export const OBJECT_FIELDS: { readonly [O in SObjectName]: readonly string[] } = {
  Account: ['Id', 'Name', 'Industry', 'AnnualRevenue', 'Tenant__c', 'Region__c'],
  Contact: ['Id', 'Name', 'Title', 'AccountId', 'Email', 'Phone', 'SSN__c', 'DateOfBirth__c', 'Tenant__c', 'Region__c'],
  Opportunity: ['Id', 'Name', 'StageName', 'CloseDate', 'AccountId', 'Amount', 'Tenant__c', 'Region__c'],
  Quote: ['Id', 'Name', 'OpportunityId', 'Status', 'Discount', 'TotalPrice', 'Tenant__c', 'Region__c'],
};

/** Salesforce's real key prefixes (the first three characters of every id). */
export const KEY_PREFIXES: { readonly [O in SObjectName]: string } = {
  Account: '001',
  Contact: '003',
  Opportunity: '006',
  Quote: '0Q0',
};

export const SOBJECT_NAMES: readonly SObjectName[] = ['Account', 'Contact', 'Opportunity', 'Quote'];

/** The four (tenant, region) cells, in interleaving order. */
export const CELLS: readonly { readonly tenant: Tenant; readonly region: Region }[] = [
  { tenant: 'acme', region: 'EU' },
  { tenant: 'acme', region: 'US' },
  { tenant: 'globex', region: 'EU' },
  { tenant: 'globex', region: 'US' },
];

/** Records per (tenant, region) cell and object: 4 cells × 16 = 64 records per object. */
export const RECORDS_PER_CELL = 16;

const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/**
 * The 18-character form of a 15-character Salesforce id: the real case-safe checksum (one
 * character per 5-character chunk, a bit set for every upper-case letter).
 */
export function caseSafeId(id15: string): string {
  if (id15.length !== 15) throw new RangeError(`id15 must be 15 characters, got ${id15.length}`);
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) flags |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET[flags];
  }
  return id15 + suffix;
}

/** The id of the `n`th record (1-based) of an object: key prefix, zero-padded index, checksum. */
export function sfId(object: SObjectName, n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 999_999_999_999) throw new RangeError(`record index out of range: ${n}`);
  return caseSafeId(KEY_PREFIXES[object] + String(n).padStart(12, '0'));
}

/** The 1-based record index of the `slot`th record (0-based) in a cell (0-based). */
function indexOf(cell: number, slot: number): number {
  return slot * CELLS.length + cell + 1;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

const COMPANY_WORDS = ['Anvil', 'Rocket', 'Widget', 'Sprocket', 'Gizmo', 'Turbine', 'Lantern', 'Harbor',
  'Summit', 'Falcon', 'Orchard', 'Beacon', 'Quarry', 'Meadow', 'Comet', 'Pioneer'];
const COMPANY_SUFFIXES = ['Works', 'Labs', 'Logistics', 'Foods'];
const INDUSTRIES = ['Manufacturing', 'Technology', 'Retail', 'Energy', 'Healthcare', 'Finance', 'Transportation', 'Media'];
const FIRST_NAMES = ['Alex', 'Blake', 'Casey', 'Dana', 'Eli', 'Finley', 'Gray', 'Harper',
  'Indigo', 'Jules', 'Kai', 'Logan', 'Morgan', 'Noel', 'Oakley', 'Parker'];
const LAST_NAMES = ['Example', 'Sample', 'Testington', 'Placeholder', 'Demo', 'Fixture', 'Mockett', 'Stubbs'];
const TITLES = ['VP Sales', 'Procurement Lead', 'CFO', 'IT Director', 'Buyer', 'Operations Manager', 'CEO', 'Analyst'];
const STAGES = ['Prospecting', 'Qualification', 'Needs Analysis', 'Value Proposition',
  'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost'];
const PRODUCTS = ['Platform Licence', 'Support Renewal', 'Onboarding', 'Expansion'];
const QUOTE_STATUSES = ['Draft', 'Needs Review', 'In Review', 'Approved', 'Rejected', 'Presented', 'Accepted', 'Denied'];
/** Percent; some above the automation limit of 20, so the demo has quotes the bot could not write. */
const DISCOUNTS = [0, 5, 10, 15, 20, 25, 30, 12.5];

function cellName(cell: number): string {
  const c = CELLS[cell]!;
  return `${c.tenant === 'acme' ? 'Acme' : 'Globex'} ${c.region}`;
}

function emailDomain(tenant: Tenant): string {
  return tenant === 'acme' ? 'example.com' : 'example.org';
}

function account(cell: number, slot: number): CrmRecord {
  const n = indexOf(cell, slot);
  const { tenant, region } = CELLS[cell]!;
  return {
    Id: sfId('Account', n),
    Name: `${cellName(cell)} ${COMPANY_WORDS[slot % COMPANY_WORDS.length]} ${COMPANY_SUFFIXES[cell % COMPANY_SUFFIXES.length]} ${pad(slot + 1, 2)}`,
    Industry: INDUSTRIES[(slot + cell) % INDUSTRIES.length]!,
    AnnualRevenue: (slot + 1) * 250_000 + cell * 10_000,
    Tenant__c: tenant,
    Region__c: region,
  };
}

function contact(cell: number, slot: number): CrmRecord {
  const n = indexOf(cell, slot);
  const { tenant, region } = CELLS[cell]!;
  const first = FIRST_NAMES[slot % FIRST_NAMES.length]!;
  const last = LAST_NAMES[(slot + cell) % LAST_NAMES.length]!;
  return {
    Id: sfId('Contact', n),
    Name: `${first} ${last}`,
    Title: TITLES[(slot * 3 + cell) % TITLES.length]!,
    // two contacts per account, always in the same cell
    AccountId: sfId('Account', indexOf(cell, Math.floor(slot / 2))),
    Email: `${first.toLowerCase()}.${last.toLowerCase()}.${pad(n, 3)}@${emailDomain(tenant)}`,
    // 555-0100..555-0199 is the range reserved for fiction
    Phone: `+1-555-01${pad(n % 100, 2)}`,
    // 900-999 area numbers are never issued as SSNs
    SSN__c: `900-${pad((n * 7) % 100, 2)}-${pad((n * 37) % 10_000, 4)}`,
    DateOfBirth__c: `19${60 + ((n * 3) % 40)}-${pad((n % 12) + 1, 2)}-${pad((n % 28) + 1, 2)}`,
    Tenant__c: tenant,
    Region__c: region,
  };
}

function opportunity(cell: number, slot: number): CrmRecord {
  const n = indexOf(cell, slot);
  const { tenant, region } = CELLS[cell]!;
  const accountSlot = Math.floor(slot / 2);
  return {
    Id: sfId('Opportunity', n),
    Name: `${cellName(cell)} ${COMPANY_WORDS[accountSlot % COMPANY_WORDS.length]} - ${PRODUCTS[slot % PRODUCTS.length]}`,
    StageName: STAGES[(slot + cell) % STAGES.length]!,
    CloseDate: `2026-${pad((slot % 12) + 1, 2)}-${pad(((slot * 5 + cell) % 28) + 1, 2)}`,
    AccountId: sfId('Account', indexOf(cell, accountSlot)),
    Amount: 10_000 + slot * 7_500 + cell * 1_250,
    Tenant__c: tenant,
    Region__c: region,
  };
}

function quote(cell: number, slot: number): CrmRecord {
  const n = indexOf(cell, slot);
  const { tenant, region } = CELLS[cell]!;
  const discount = DISCOUNTS[(slot + cell) % DISCOUNTS.length]!;
  const list = 10_000 + slot * 7_500 + cell * 1_250; // the matching opportunity's Amount
  return {
    Id: sfId('Quote', n),
    Name: `Q-${tenant.toUpperCase()}-${region}-${pad(slot + 1, 4)}`,
    OpportunityId: sfId('Opportunity', n),
    Status: QUOTE_STATUSES[(slot * 3 + cell) % QUOTE_STATUSES.length]!,
    Discount: discount,
    TotalPrice: Math.round(list * (100 - discount)) / 100,
    Tenant__c: tenant,
    Region__c: region,
  };
}

const BUILDERS: { readonly [O in SObjectName]: (cell: number, slot: number) => CrmRecord } = {
  Account: account,
  Contact: contact,
  Opportunity: opportunity,
  Quote: quote,
};

/**
 * Builds the dataset: `perCell` records per (tenant, region) cell and object, ordered by index.
 * Returns fresh, mutable-by-copy arrays; `DATASET` is the frozen default.
 */
export function buildDataset(perCell: number = RECORDS_PER_CELL): CrmDataset {
  if (!Number.isInteger(perCell) || perCell < 1) throw new RangeError(`perCell must be a positive integer, got ${perCell}`);
  const build = (o: SObjectName): CrmRecord[] => {
    const out: CrmRecord[] = [];
    for (let slot = 0; slot < perCell; slot++) {
      for (let cell = 0; cell < CELLS.length; cell++) out.push(BUILDERS[o](cell, slot));
    }
    return out;
  };
  return { Account: build('Account'), Contact: build('Contact'), Opportunity: build('Opportunity'), Quote: build('Quote') };
}

function deepFreeze(d: CrmDataset): CrmDataset {
  for (const o of SOBJECT_NAMES) {
    for (const r of d[o]) Object.freeze(r);
    Object.freeze(d[o]);
  }
  return Object.freeze(d);
}

/** The default demo dataset (frozen; the demo upstream works on its own copy). */
export const DATASET: CrmDataset = deepFreeze(buildDataset());

/** Stable ids for tests and the demo's "try this" commands (first record of each cell). */
export const DEMO_IDS = Object.freeze({
  acmeEuAccount: sfId('Account', indexOf(0, 0)),
  acmeEuContact: sfId('Contact', indexOf(0, 0)),
  acmeEuOpportunity: sfId('Opportunity', indexOf(0, 0)),
  acmeEuQuote: sfId('Quote', indexOf(0, 0)),
  acmeUsContact: sfId('Contact', indexOf(1, 0)),
  acmeUsOpportunity: sfId('Opportunity', indexOf(1, 0)),
  globexEuContact: sfId('Contact', indexOf(2, 0)),
  globexUsAccount: sfId('Account', indexOf(3, 0)),
  globexUsContact: sfId('Contact', indexOf(3, 0)),
  globexUsOpportunity: sfId('Opportunity', indexOf(3, 0)),
  globexUsQuote: sfId('Quote', indexOf(3, 0)),
});

/** The object whose key prefix starts `id`, if any. */
export function objectOfId(id: string): SObjectName | undefined {
  return SOBJECT_NAMES.find((o) => id.startsWith(KEY_PREFIXES[o]));
}
