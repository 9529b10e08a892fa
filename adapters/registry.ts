/**
 * The one table of CRM adapters. A new CRM shape is one folder under adapters/ and one line
 * here.
 */
import { createGenericJsonAdapter } from './generic-json/index.ts';
import { createSalesforceAdapter } from './salesforce/index.ts';
import type { Adapter, AdapterFactory } from './types.ts';

export const ADAPTERS: Readonly<Record<string, AdapterFactory>> = Object.freeze({
  'generic-json': createGenericJsonAdapter,
  salesforce: createSalesforceAdapter,
});

/** Names of the registered adapters, for config validation and docs. */
export const ADAPTER_NAMES: readonly string[] = Object.freeze(Object.keys(ADAPTERS).sort());

/**
 * Create an adapter by registry name. Throws `adapter: unknown adapter "x"` for an unknown
 * name, and the factory's own `<key>: …` error for invalid options.
 */
export function createAdapter(name: string, options: Readonly<Record<string, unknown>> = {}): Adapter {
  const factory = Object.hasOwn(ADAPTERS, name) ? ADAPTERS[name] : undefined;
  if (factory === undefined) throw new Error(`adapter: unknown adapter ${JSON.stringify(name)}`);
  return factory(options);
}
