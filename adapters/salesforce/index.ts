/**
 * The Salesforce REST adapter: SOQL queries and sObject record routes (see resolve.ts), and the
 * response filter for query results and records (see filter.ts).
 *
 * Options: `{ bodyFields?: {"*": [...], "<Object>": [...]} }`, the decision-relevant fields of
 * a write body (matched case-insensitively, as Salesforce does).
 */
import type { Adapter, AdapterFactory } from '../types.ts';
import { validateBodyFields, type BodyFieldsOption } from '../shared/body-fields.ts';
import { filterSalesforce } from './filter.ts';
import { ADAPTER_NAME, resolveSalesforce } from './resolve.ts';

/** Fields every write shows the policy, plus a Quote's Discount. */
export const DEFAULT_BODY_FIELDS: BodyFieldsOption = Object.freeze({
  '*': Object.freeze(['Tenant__c', 'Region__c']),
  Quote: Object.freeze(['Discount']),
});

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['bodyFields']);

/**
 * Create the Salesforce adapter. Throws an Error whose message starts with the offending
 * option key when the options are invalid.
 */
export const createSalesforceAdapter: AdapterFactory = (options) => {
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw new Error(`${key}: unknown option`);
  const bodyFields = options['bodyFields'] === undefined ? DEFAULT_BODY_FIELDS : validateBodyFields(options['bodyFields'], 'bodyFields');
  const adapter: Adapter = {
    name: ADAPTER_NAME,
    resolve: (req, body) => resolveSalesforce(req, body, bodyFields),
    filter: (body, resource, obligations) => filterSalesforce(body, resource, obligations),
  };
  return Object.freeze(adapter);
};
