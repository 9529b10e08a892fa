import t from 'tap';
import { ADAPTER_NAMES, createAdapter } from '../../../adapters/registry.ts';

t.test('creates registered adapters by name', async (t) => {
  t.same(ADAPTER_NAMES, ['generic-json', 'salesforce']);
  t.equal(createAdapter('salesforce', {}).name, 'salesforce');
  t.equal(createAdapter('generic-json', { routes: [{ pattern: '/a', object: 'A' }] }).name, 'generic-json');
});

t.test('unknown names and bad options throw with the key first', async (t) => {
  t.throws(() => createAdapter('hubspot', {}), { message: 'adapter: unknown adapter "hubspot"' });
  t.throws(() => createAdapter('constructor', {}), { message: 'adapter: unknown adapter "constructor"' });
  t.throws(() => createAdapter('generic-json', {}), { message: /^routes: / });
});
