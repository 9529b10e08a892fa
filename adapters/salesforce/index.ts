/**
 * The Salesforce REST adapter: SOQL queries and sObject record routes (see resolve.ts), and the
 * response filter for query results and records (see filter.ts).
 *
 * Options:
 * - `bodyFields?: {"*": [...], "<Object>": [...]}`: the decision-relevant fields of a write body
 *   (matched case-insensitively, as Salesforce does);
 * - `objects?: ["Account", …]`: canonical object API names. A request naming one of them in
 *   another case (`contact`) is resolved to the canonical spelling, because Salesforce treats
 *   object names case-insensitively while the policy's catalog keys are exact. Default: the four
 *   demo objects (DEFAULT_OBJECTS).
 */
import type { Adapter, AdapterFactory } from '../types.ts';
import { isStringArray, reduceErrorBody, type KeepMember, type RewriteString } from '../shared/error-body.ts';
import { validateBodyFields, type BodyFieldsOption } from '../shared/body-fields.ts';
import { filterSalesforce } from './filter.ts';
import { ADAPTER_NAME, cachedSoqlReader, resolveSalesforce, type ObjectNames } from './resolve.ts';
import { isApiName } from './soql.ts';

/** Distinct SOQL texts whose parse is kept (resolve.ts cachedSoqlReader). */
const SOQL_CACHE_ENTRIES = 1000;

/** Fields every write shows the policy, plus a Quote's Discount. */
export const DEFAULT_BODY_FIELDS: BodyFieldsOption = Object.freeze({
  '*': Object.freeze(['Tenant__c', 'Region__c']),
  Quote: Object.freeze(['Discount']),
});

/** Objects whose case-variant spellings are mapped to the canonical one by default. */
export const DEFAULT_OBJECTS: readonly string[] = Object.freeze(['Account', 'Contact', 'Opportunity', 'Quote']);

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['bodyFields', 'objects']);

function validateObjects(value: unknown, key: string): ObjectNames {
  if (!Array.isArray(value)) throw new Error(`${key}: must be an array of object API names`);
  const out = new Map<string, string>();
  for (const [i, name] of value.entries()) {
    if (typeof name !== 'string' || !isApiName(name)) throw new Error(`${key}[${i}]: must be an object API name`);
    const prior = out.get(name.toLowerCase());
    if (prior !== undefined && prior !== name) throw new Error(`${key}[${i}]: ${name} and ${prior} differ only in case`);
    out.set(name.toLowerCase(), name);
  }
  return out;
}

/**
 * Members of a Salesforce error that pass: the REST API's error object is
 * `{errorCode, message, fields?}` (in an array), and the OAuth endpoints' is `{error,
 * error_description}`. Anything else, such as DUPLICATES_DETECTED's `duplicateResult` with the
 * matching records, is dropped.
 */
const keepErrorMember: KeepMember = (key, value) =>
  ((key === 'errorCode' || key === 'message' || key === 'error' || key === 'error_description') && typeof value === 'string') ||
  (key === 'fields' && isStringArray(value));

/**
 * A Salesforce record id (15 or 18 characters, letters and digits, at least one digit) standing
 * alone in a message. DUPLICATE_VALUE says "duplicates value on record with id: 003…", and the
 * record can be another tenant's: its id is replaced. (That some record holds the value is still
 * told: a uniqueness rule across tenants says so by refusing the write at all.)
 */
const RECORD_ID = /(?<![A-Za-z0-9])(?=[A-Za-z]*[0-9])[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?![A-Za-z0-9])/g;

// '' is a body that is a bare string (a message).
const withoutRecordIds: RewriteString = (key, value) => (key === 'message' || key === 'error_description' || key === '' ? value.replace(RECORD_ID, '[id]') : value);

/**
 * Create the Salesforce adapter. Throws an Error whose message starts with the offending
 * option key when the options are invalid.
 */
export const createSalesforceAdapter: AdapterFactory = (options) => {
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw new Error(`${key}: unknown option`);
  const bodyFields = options['bodyFields'] === undefined ? DEFAULT_BODY_FIELDS : validateBodyFields(options['bodyFields'], 'bodyFields');
  const objects = validateObjects(options['objects'] ?? DEFAULT_OBJECTS, 'objects');
  const soql = cachedSoqlReader(SOQL_CACHE_ENTRIES);
  const adapter: Adapter = {
    name: ADAPTER_NAME,
    resolve: (req, body) => resolveSalesforce(req, body, bodyFields, objects, soql),
    filter: (body, resource, obligations) => filterSalesforce(body, resource, obligations),
    errorBody: (body) => reduceErrorBody(body, keepErrorMember, withoutRecordIds),
    // GET …/sobjects/{Object}/{id}?fields=a,b returns just those fields (field names need no escaping).
    currentRecordQuery: (fields) => `fields=${fields.join(',')}`,
  };
  return Object.freeze(adapter);
};
