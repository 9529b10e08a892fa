import t from 'tap';
import { filterFields, isApiName, parseSoql, selectedFields } from '../../../adapters/salesforce/soql.ts';

t.test('parses object, fields and child relationships', async (t) => {
  const cases: [string, string, string[] | undefined, string[]][] = [
    // [soql, object, Resource.fields, child relationships]
    ['SELECT Id, Name FROM Contact', 'Contact', ['Id', 'Name'], []],
    ['select id, name from contact', 'contact', ['id', 'name'], []],
    ['SELECT Id, Account.Name, Owner.Manager.Email FROM Contact', 'Contact', ['Id', 'Account.Name', 'Owner.Manager.Email'], []],
    ["SELECT Id,Name FROM Contact WHERE Name = 'O\\'Brien, (FROM x)' AND Region__c IN ('EU','US') ORDER BY Name DESC LIMIT 10 OFFSET 5", 'Contact', ['Id', 'Name'], []],
    ["SELECT Id FROM Contact WHERE Name = 'a\\'b FROM' LIMIT 1", 'Contact', ['Id'], []],
    ['SELECT Id, ns__Score__c FROM ns__Lead__c WHERE CreatedDate = LAST_N_DAYS:30', 'ns__Lead__c', ['Id', 'ns__Score__c'], []],
    ['SELECT Id, (SELECT Id, Email FROM Contacts WHERE Email != null LIMIT 5) FROM Account', 'Account', ['Id', 'Contacts.Id', 'Contacts.Email'], ['Contacts']],
    ['SELECT Id, (SELECT Id FROM Contacts), (SELECT Amount FROM Opportunities) FROM Account', 'Account', ['Id', 'Contacts.Id', 'Opportunities.Amount'], ['Contacts', 'Opportunities']],
    ['SELECT FIELDS(ALL) FROM Contact LIMIT 200', 'Contact', undefined, []],
    ['SELECT Id, FIELDS(standard) FROM Contact LIMIT 200', 'Contact', undefined, []],
    ['SELECT Id, (SELECT FIELDS(ALL) FROM Contacts LIMIT 200) FROM Account', 'Account', undefined, ['Contacts']],
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
    ['SELECT Id, (SELECT Id FROM Contacts WHERE (x = 1) FROM Account', /unexpected "FROM" after FROM Contacts/],
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

t.test('WHERE and ORDER BY fields', async (t) => {
  const cases: [string, string[]][] = [
    // [soql, filterFields]
    ["SELECT Id FROM Contact WHERE SSN__c = '900-07-0037'", ['SSN__c']],
    ['SELECT Id FROM Contact', []],
    ['SELECT Id FROM Contact LIMIT 10 OFFSET 5', []],
    ['SELECT Id FROM Contact ORDER BY DateOfBirth__c', ['DateOfBirth__c']],
    ['select id from contact where ssn__c != null order by dateofbirth__c asc nulls first, name desc', ['ssn__c', 'dateofbirth__c', 'name']],
    // dotted relationship paths, as written
    ["SELECT Id FROM Contact WHERE Account.Owner.Email LIKE '%@x.com' ORDER BY Account.Name", ['Account.Owner.Email', 'Account.Name']],
    // NOT, parentheses, AND/OR, IN / NOT IN / INCLUDES / EXCLUDES lists
    ["SELECT Id FROM Contact WHERE NOT (Name = 'a' OR (Title != 'b' AND NOT Phone IN ('1', '2')))", ['Name', 'Title', 'Phone']],
    ["SELECT Id FROM Contact WHERE Email NOT IN ('a', 'b') AND Tags__c INCLUDES ('x;y', 'z') AND Kinds__c EXCLUDES ('q')", ['Email', 'Tags__c', 'Kinds__c']],
    // functions around fields, nested; literals of every kind
    ['SELECT Id FROM Contact WHERE CALENDAR_YEAR(convertTimezone(Birthdate__c)) = 1990 AND DAY_ONLY(CreatedDate) > 2020-01-01', ['Birthdate__c', 'CreatedDate']],
    ["SELECT Id FROM Account WHERE DISTANCE(Location__c, GEOLOCATION(37.775, -122.418), 'mi') < 20 ORDER BY DISTANCE(Location__c, GEOLOCATION(37.775, -122.418), 'mi')", ['Location__c', 'Location__c']],
    ['SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:30 AND CreatedDate >= 2020-01-01T00:00:00Z AND LastModifiedDate < 2020-01-01T00:00:00.000+01:00 AND Amount > USD5000 AND Probability >= -1.5e2 AND IsWon = TRUE AND Name <> NULL AND CloseDate < THIS_FISCAL_QUARTER', ['CloseDate', 'CreatedDate', 'LastModifiedDate', 'Amount', 'Probability', 'IsWon', 'Name', 'CloseDate']],
    ['SELECT Id FROM Contact ORDER BY toLabel(Status__c)', ['Status__c']],
    // clauses around WHERE
    ["SELECT Id FROM Contact USING SCOPE mine WHERE Name = 'x' WITH SECURITY_ENFORCED ORDER BY Name LIMIT 1 OFFSET 1 FOR VIEW UPDATE TRACKING", ['Name', 'Name']],
    ["SELECT Id FROM Contact WHERE Name = 'x' FOR UPDATE", ['Name']],
    // a string literal's content is never a field
    ["SELECT Id FROM Contact WHERE Name = 'SSN__c = 1 OR (DateOfBirth__c)'", ['Name']],
  ];
  for (const [q, want] of cases) {
    const r = parseSoql(q);
    t.ok(r.ok, q);
    if (!r.ok) {
      t.comment(r.why);
      continue;
    }
    t.same(r.query.filterFields, want, `${q}: filterFields`);
  }
});

t.test('filterFields() covers child subqueries, prefixed, without duplicates', async (t) => {
  const r = parseSoql(
    "SELECT Id, (SELECT Id FROM Contacts WHERE SSN__c = '1' ORDER BY DateOfBirth__c), (SELECT Id FROM Opportunities ORDER BY Amount) FROM Account WHERE Name = 'a' OR Name = 'b' ORDER BY Industry",
  );
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.query.filterFields, ['Name', 'Name', 'Industry']);
  t.same(filterFields(r.query), ['Name', 'Industry', 'Contacts.SSN__c', 'Contacts.DateOfBirth__c', 'Opportunities.Amount']);
  t.same(selectedFields(r.query), ['Id', 'Contacts.Id', 'Opportunities.Id'], 'the select list is unchanged');
});

t.test('refuses WHERE and ORDER BY it cannot analyse', async (t) => {
  const cases: [string, RegExp][] = [
    // semi-joins and anti-joins probe another object: refused in v0
    ["SELECT Id FROM Contact WHERE Id IN (SELECT ContactId FROM CaseContactRole WHERE Role = 'x')", /semi-join/],
    ["SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contact WHERE SSN__c = '900-07-0037')", /semi-join/],
    ['SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact GROUP BY AccountId)', /semi-join/],
    ["SELECT Id, (SELECT Id FROM Contacts WHERE AccountId IN (SELECT Id FROM Account)) FROM Account", /semi-join/],
    ["SELECT Id FROM Contact WHERE (SELECT Id FROM Account) = 'x'", /subqueries in WHERE/],
    // functions the parser does not know, in WHERE and ORDER BY
    ["SELECT Id FROM Contact WHERE MAX(SSN__c) = '1'", /unsupported function MAX/],
    ["SELECT Id FROM Contact WHERE FORMAT(SSN__c) = '1'", /unsupported function FORMAT/],
    ['SELECT Id FROM Contact ORDER BY COUNT(Id)', /unsupported function COUNT\(…\) in ORDER BY/],
    // values that are not literals (SOQL never compares a field with a field)
    ['SELECT Id FROM Contact WHERE SSN__c = Name', /unsupported value "Name"/],
    ['SELECT Id FROM Contact WHERE SSN__c = :ssn', /unsupported value ":ssn"/],
    ["SELECT Id FROM Contact WHERE Name = 'O''Brien'", /unexpected/],
    // malformed conditions
    ['SELECT Id FROM Contact WHERE', /expected a field in WHERE/],
    ['SELECT Id FROM Contact WHERE SSN__c', /expected an operator/],
    ["SELECT Id FROM Contact WHERE SSN__c =< '1'", /unsupported operator "=<"/],
    ["SELECT Id FROM Contact WHERE SSN__c == '1'", /unsupported operator/],
    ["SELECT Id FROM Contact WHERE SSN__c IN '1'", /expected \( after IN/],
    ["SELECT Id FROM Contact WHERE SSN__c IN ('1' '2')", /unexpected "'2'" in a value list/],
    ["SELECT Id FROM Contact WHERE SSN__c IN ('1',", /unsupported value end of query|unbalanced/],
    ["SELECT Id FROM Contact WHERE Name = 'a' Title = 'b'", /unexpected "Title" after FROM Contact/],
    ["SELECT Id FROM Contact WHERE Name = 'a' AND", /expected a field in WHERE/],
    ["SELECT Id FROM Contact WHERE Account..Name = 'a'", /invalid field name/],
    [`SELECT Id FROM Contact WHERE ${'NOT '.repeat(40)}Name = 'a'`, /nested too deeply/],
    [`SELECT Id FROM Contact WHERE ${'('.repeat(40)}Name = 'a'${')'.repeat(40)}`, /nested too deeply/],
    // other clauses
    ['SELECT Id FROM Contact ORDER Name', /expected ORDER BY/],
    ['SELECT Id FROM Contact ORDER BY', /expected a field in ORDER BY/],
    ['SELECT Id FROM Contact ORDER BY Name NULLS', /NULLS FIRST or NULLS LAST/],
    ['SELECT Id FROM Contact ORDER BY Name, ', /expected a field in ORDER BY/],
    ['SELECT Id FROM Contact WITH DATA CATEGORY Geography__c AT asia__c', /WITH DATA is not supported/],
    ['SELECT Id FROM Contact LIMIT x', /LIMIT needs a number/],
    ["SELECT Id FROM Contact LIMIT 1 WHERE Name = 'a'", /WHERE is out of place/],
    ["SELECT Id FROM Contact WHERE Name = 'a' WHERE SSN__c = '1'", /WHERE is out of place/],
    ['SELECT Id FROM Contact USING Name', /USING SCOPE/],
    ['SELECT Id FROM Contact FOR SHARE', /after FOR/],
    ['SELECT Id FROM Contact UPDATE x', /after UPDATE/],
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
