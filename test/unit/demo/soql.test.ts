import t from 'tap';
import { parseSoql, SoqlError } from '../../../gateway/demo/soql.ts';

t.test('parses the supported subset', async (t) => {
  t.same(parseSoql('SELECT Id, Name FROM Contact'), { object: 'Contact', fields: ['Id', 'Name'], where: [] });
  t.same(parseSoql('select fields(all) from quote limit 5'), { object: 'quote', fields: 'ALL', where: [], limit: 5 });
  t.same(
    parseSoql("SELECT Id FROM Contact WHERE Region__c = 'EU' AND Tenant__c IN ('acme', 'glo\\'bex') AND Amount >= 10.5 ORDER BY Name DESC LIMIT 10 OFFSET 20"),
    {
      object: 'Contact',
      fields: ['Id'],
      where: [
        { field: 'Region__c', op: '=', value: 'EU' },
        { field: 'Tenant__c', op: 'IN', value: ['acme', "glo'bex"] },
        { field: 'Amount', op: '>=', value: 10.5 },
      ],
      orderBy: { field: 'Name', direction: 'DESC' },
      limit: 10,
      offset: 20,
    },
  );
  t.same(parseSoql('SELECT Id FROM Opportunity WHERE CloseDate < 2026-06-01 AND Name != null AND Id NOT IN (1)').where, [
    { field: 'CloseDate', op: '<', value: '2026-06-01' },
    { field: 'Name', op: '!=', value: null },
    { field: 'Id', op: 'NOT IN', value: [1] },
  ]);
});

t.test('refuses everything else with SoqlError', async (t) => {
  for (const bad of [
    '',
    'SELEC Id FROM Contact',
    'SELECT FROM Contact',
    'SELECT Id Contact',
    'SELECT Id FROM',
    "SELECT Id FROM Contact WHERE Name = 'unterminated",
    'SELECT Id FROM Contact WHERE Name',
    "SELECT Id FROM Contact WHERE Name = 'a' OR Name = 'b'",
    'SELECT Id FROM Contact LIMIT x',
    'SELECT Id FROM Contact LIMIT 5 extra',
    'SELECT FIELDS(STANDARD) FROM Contact',
    'SELECT Id FROM Contact; DROP',
  ]) {
    t.throws(() => parseSoql(bad), SoqlError, JSON.stringify(bad));
  }
});
