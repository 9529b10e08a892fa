import t from 'tap';
import {
  CELLS,
  DATASET,
  DEMO_IDS,
  KEY_PREFIXES,
  OBJECT_FIELDS,
  SOBJECT_NAMES,
  buildDataset,
  caseSafeId,
  objectOfId,
  sfId,
  type CrmRecord,
} from '../../../gateway/demo/crm-data.ts';

t.test('every object has at least 60 records and every (tenant, region) cell', async (t) => {
  for (const o of SOBJECT_NAMES) {
    const rows = DATASET[o];
    t.ok(rows.length >= 60, `${o} has ${rows.length} records`);
    for (const { tenant, region } of CELLS) {
      t.ok(rows.some((r) => r.Tenant__c === tenant && r.Region__c === region), `${o} has ${tenant}/${region}`);
    }
    t.same(new Set(rows.map((r) => r.Tenant__c)), new Set(['acme', 'globex']), `${o} tenants`);
    t.same(new Set(rows.map((r) => r.Region__c)), new Set(['EU', 'US']), `${o} regions`);
  }
});

t.test('records carry exactly the object fields', async (t) => {
  for (const o of SOBJECT_NAMES) {
    for (const r of DATASET[o]) t.same(Object.keys(r), OBJECT_FIELDS[o], `${o} ${r.Id}`);
  }
});

t.test('ids are unique, 18 characters, with the real key prefix', async (t) => {
  const all = new Set<string>();
  for (const o of SOBJECT_NAMES) {
    for (const r of DATASET[o]) {
      t.equal(r.Id.length, 18, r.Id);
      t.ok(r.Id.startsWith(KEY_PREFIXES[o]), `${r.Id} starts with ${KEY_PREFIXES[o]}`);
      t.equal(caseSafeId(r.Id.slice(0, 15)), r.Id, `${r.Id} checksum`);
      t.equal(objectOfId(r.Id), o);
      t.notOk(all.has(r.Id), `${r.Id} unique`);
      all.add(r.Id);
    }
  }
  t.same(KEY_PREFIXES, { Account: '001', Contact: '003', Opportunity: '006', Quote: '0Q0' });
});

t.test('the case-safe checksum follows Salesforce (upper-case letters set bits)', async (t) => {
  t.equal(caseSafeId('001000000000001'), '001000000000001AAA');
  t.equal(caseSafeId('0Q0000000000001'), '0Q0000000000001CAA'); // Q at position 1 → bit 1 → 'C'
  t.equal(caseSafeId('001A0000000000Z'), '001A0000000000ZIAQ');
  t.throws(() => caseSafeId('short'), RangeError);
  t.throws(() => sfId('Contact', 0), RangeError);
});

t.test('references stay inside their tenant and region', async (t) => {
  const byId = new Map<string, CrmRecord>();
  for (const o of SOBJECT_NAMES) for (const r of DATASET[o]) byId.set(r.Id, r);
  const check = (o: 'Contact' | 'Opportunity' | 'Quote', ref: string): void => {
    for (const r of DATASET[o]) {
      const target = byId.get(String(r[ref]));
      t.ok(target, `${o} ${r.Id} ${ref} resolves`);
      t.equal(target?.Tenant__c, r.Tenant__c, `${o} ${r.Id} ${ref} tenant`);
      t.equal(target?.Region__c, r.Region__c, `${o} ${r.Id} ${ref} region`);
    }
  };
  check('Contact', 'AccountId');
  check('Opportunity', 'AccountId');
  check('Quote', 'OpportunityId');
});

t.test('values are obviously synthetic', async (t) => {
  for (const c of DATASET.Contact) {
    t.match(c.Email, /@example\.(com|org)$/);
    t.match(c.Phone, /^\+1-555-01[0-9]{2}$/);
    t.match(c.SSN__c, /^9[0-9]{2}-[0-9]{2}-[0-9]{4}$/);
    t.match(c.DateOfBirth__c, /^19[6-9][0-9]-[01][0-9]-[0-3][0-9]$/);
  }
  for (const q of DATASET.Quote) {
    t.type(q.Discount, 'number');
    t.ok((q.Discount as number) >= 0 && (q.Discount as number) <= 100);
  }
  t.ok(DATASET.Quote.some((q) => (q.Discount as number) > 20), 'some quotes exceed the automation limit');
});

t.test('deterministic: rebuilding yields the same data; the default is frozen', async (t) => {
  t.same(buildDataset(), DATASET);
  t.ok(Object.isFrozen(DATASET.Contact));
  t.ok(Object.isFrozen(DATASET.Contact[0]));
});

t.test('DEMO_IDS name records of the stated cells', async (t) => {
  const find = (o: 'Contact' | 'Quote', id: string) => DATASET[o].find((r) => r.Id === id);
  t.match(find('Contact', DEMO_IDS.acmeEuContact), { Tenant__c: 'acme', Region__c: 'EU' });
  t.match(find('Contact', DEMO_IDS.globexUsContact), { Tenant__c: 'globex', Region__c: 'US' });
  t.match(find('Contact', DEMO_IDS.acmeUsContact), { Tenant__c: 'acme', Region__c: 'US' });
  t.match(find('Contact', DEMO_IDS.globexEuContact), { Tenant__c: 'globex', Region__c: 'EU' });
  t.match(find('Quote', DEMO_IDS.acmeEuQuote), { Tenant__c: 'acme', Region__c: 'EU' });
  t.match(find('Quote', DEMO_IDS.globexUsQuote), { Tenant__c: 'globex', Region__c: 'US' });
  t.equal(DEMO_IDS.acmeEuContact, '003000000000001AAA');
  t.equal(DEMO_IDS.globexUsContact, '003000000000004AAA');
});
