import t from 'tap';
import { isApiName, parseSoql, selectedFields } from '../../../adapters/salesforce/soql.ts';

t.test('parses object, fields and child relationships', async (t) => {
  const cases: [string, string, string[] | undefined, string[]][] = [
    // [soql, object, Resource.fields, child relationships]
    ['SELECT Id, Name FROM Contact', 'Contact', ['Id', 'Name'], []],
    ['select id, name from contact', 'contact', ['id', 'name'], []],
    ['SELECT Id, Account.Name, Owner.Manager.Email FROM Contact', 'Contact', ['Id', 'Account.Name', 'Owner.Manager.Email'], []],
    ['SELECT Id,Name FROM Contact WHERE Name = \'O\'\'Brien, (FROM x)\' AND Region__c IN (\'EU\',\'US\') ORDER BY Name DESC LIMIT 10 OFFSET 5', 'Contact', ['Id', 'Name'], []],
    ["SELECT Id FROM Contact WHERE Name = 'a\\'b FROM' LIMIT 1", 'Contact', ['Id'], []],
    ['SELECT Id, ns__Score__c FROM ns__Lead__c WHERE CreatedDate = LAST_N_DAYS:30', 'ns__Lead__c', ['Id', 'ns__Score__c'], []],
    ['SELECT Id, (SELECT Id, Email FROM Contacts WHERE Email != null LIMIT 5) FROM Account', 'Account', ['Id', 'Contacts.Id', 'Contacts.Email'], ['Contacts']],
    ['SELECT Id, (SELECT Id FROM Contacts), (SELECT Amount FROM Opportunities) FROM Account', 'Account', ['Id', 'Contacts.Id', 'Opportunities.Amount'], ['Contacts', 'Opportunities']],
    ['SELECT FIELDS(ALL) FROM Contact LIMIT 200', 'Contact', undefined, []],
    ['SELECT Id, FIELDS(standard) FROM Contact LIMIT 200', 'Contact', undefined, []],
    ['SELECT Id, (SELECT FIELDS(ALL) FROM Contacts LIMIT 200) FROM Account', 'Account', undefined, ['Contacts']],
    ['SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact GROUP BY AccountId)', 'Account', ['Id'], []],
    ['SELECT Id FROM Contact WITH SECURITY_ENFORCED', 'Contact', ['Id'], []],
    ['  SELECT\n\tId\nFROM\nContact  ', 'Contact', ['Id'], []],
  ];
  for (const [q, object, fields, children] of cases) {
    const r = parseSoql(q);
    t.ok(r.ok, q);
    if (!r.ok) continue;
    t.equal(r.query.object, object, `${q}: object`);
    t.same(selectedFields(r.query), fields, `${q}: fields`);
    t.same(r.query.children.map((c) => c.object), children, `${q}: children`);
  }
});

t.test('refuses what it cannot map to object fields', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /expected SELECT/],
    ['DELETE FROM Contact', /expected SELECT/],
    ['SELECT FROM Contact', /empty select list/],
    ['SELECT Id FROM', /object name after FROM/],
    ['SELECT Id, FROM Contact', /unexpected "FROM"|empty/],
    ['SELECT Id Contact', /unexpected "Contact"/],
    ['SELECT COUNT() FROM Contact', /unsupported select item COUNT/],
    ['SELECT MAX(SSN__c) m FROM Contact', /unsupported select item MAX/],
    ['SELECT toLabel(Status) FROM Lead', /unsupported select item toLabel/],
    ['SELECT FIELDS(SSN__c) FROM Contact', /unsupported select item FIELDS/],
    ['SELECT Name n FROM Contact', /unexpected "n"/],
    ['SELECT TYPEOF What WHEN Account THEN Name END FROM Event', /TYPEOF/],
    ['SELECT Region__c FROM Contact GROUP BY Region__c', /GROUP is not supported/],
    ['SELECT Region__c FROM Contact WHERE Name != null GROUP BY Region__c', /GROUP is not supported/],
    ['SELECT Id FROM Contact HAVING x', /HAVING is not supported/],
    ['SELECT Id FROM Contact c', /unexpected "c" after FROM Contact/],
    ["SELECT Id FROM Contact WHERE Name = 'x", /unterminated string literal/],
    ['SELECT Id FROM Contact WHERE (Name = 1', /unbalanced \(/],
    ['SELECT Id FROM Contact WHERE Name = 1)', /unbalanced \)/],
    ['SELECT Id, (SELECT Id FROM Contacts FROM Account', /unexpected "FROM"/],
    ['SELECT Id, (SELECT Id FROM Contacts WHERE (x = 1) FROM Account', /unterminated subquery|unbalanced/],
    ['SELECT Id; DROP FROM Contact', /unexpected character ";"/],
    ['SELECT Id___c FROM Contact', /invalid field name/],
    ['SELECT _Id FROM Contact', /unexpected character "_"|invalid field name/],
    ['SELECT Account..Name FROM Contact', /invalid field name/],
    ['SELECT Id FROM Contact.Account', /object name after FROM/],
  ];
  for (const [q, why] of cases) {
    const r = parseSoql(q);
    t.equal(r.ok, false, q);
    if (!r.ok) t.match(r.why, why, `${q}: why`);
  }
});

t.test('API names', async (t) => {
  for (const ok of ['Contact', 'Invoice__c', 'ns__Invoice__c', 'Foo_Bar__r', 'Contact__ChangeEvent', 'A1']) t.ok(isApiName(ok), ok);
  for (const bad of ['', '__c', 'a__b__c__d', '1Contact', 'Con tact', 'Contact_', 'Con__', 'x'.repeat(81), 'Account.Name']) t.notOk(isApiName(bad), bad);
});
