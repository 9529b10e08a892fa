import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { DATASET, DEMO_IDS } from '../../../gateway/demo/crm-data.ts';
import { startDemoCrm } from '../../../gateway/demo/crm-upstream.ts';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { startDevIssuer } from '../../../gateway/demo/dev-issuer.ts';
import {
  encodeQueryValue,
  findPersona,
  issuePersonaTokens,
  PERSONA_NAMES,
  PERSONAS,
  soqlPath,
  type PersonaName,
  type PersonaTokens,
} from '../../../gateway/demo/personas.ts';
import { curlCommand, personaCommands, shellQuote } from '../../../gateway/demo/print-commands.ts';

const run = promisify(execFile);

t.test('the four personas and their stated expectations', async (t) => {
  t.same(PERSONA_NAMES, ['eu-rep', 'eu-rep-unmanaged', 'quote-bot', 'globex-user']);
  t.match(findPersona('eu-rep'), {
    claims: { sub: 'u-eu-rep', tenant: 'acme', regions: ['EU'], roles: ['sales'], clearance: 'restricted', scope: 'crm.read crm.write' },
    posture: { managed: true, compliant: true, platform: 'macos' },
  });
  t.same(findPersona('eu-rep-unmanaged')?.claims, findPersona('eu-rep')?.claims);
  t.equal(findPersona('eu-rep-unmanaged')?.posture?.managed, false);
  const bot = findPersona('quote-bot')!;
  t.match(bot.claims, { sub: 'quote-bot', client_id: 'quote-bot', tenant: 'acme', regions: ['EU', 'US'], roles: [], clearance: 'internal' });
  t.equal(bot.posture, undefined);
  t.match(findPersona('globex-user'), { claims: { sub: 'u-globex', tenant: 'globex', regions: ['US'], clearance: 'confidential' }, posture: { managed: true } });
  t.equal(findPersona('nobody'), undefined);

  const reasons = PERSONAS.flatMap((p) => p.tryThis.map((x) => `${p.name} ${x.method} ${x.expect.status} ${x.expect.reason ?? ''}`.trim()));
  t.same(reasons, [
    'eu-rep GET 200',
    'eu-rep GET 404',
    'eu-rep-unmanaged GET 403 device.unmanaged',
    'eu-rep-unmanaged GET 200',
    'quote-bot POST 403 automation.discount_limit',
    'quote-bot POST 201',
    'quote-bot GET 200',
    'quote-bot GET 403 automation.object_forbidden',
    'globex-user GET 200',
    'globex-user GET 404',
  ]);
  for (const p of PERSONAS) {
    for (const x of p.tryThis) {
      if (x.body) t.match(x.body, { Tenant__c: /^(acme|globex)$/, Region__c: /^(EU|US)$/ }, 'writes carry tenant and region');
    }
  }
  t.same(bot.tryThis.filter((x) => x.method === 'POST').map((x) => x.body?.Discount), [35, 15]);
});

t.test('query values are encoded minimally and unambiguously', async (t) => {
  const soql = "SELECT Id, Name FROM Contact WHERE Name = 'O''Brien & co/x+y#z%' LIMIT 2";
  const enc = encodeQueryValue(soql);
  t.equal(enc, 'SELECT%20Id,%20Name%20FROM%20Contact%20WHERE%20Name%20%3D%20%27O%27%27Brien%20%26%20co/x%2By%23z%25%27%20LIMIT%202');
  t.equal(new URLSearchParams(`q=${enc}`).get('q'), soql, 'form decoding gives the SOQL back');
  t.equal(decodeURIComponent(enc), soql, 'percent decoding gives the SOQL back');
  t.equal(encodeQueryValue('é'), '%C3%A9');
  t.equal(soqlPath('SELECT Id FROM Quote'), '/services/data/v60.0/query?q=SELECT%20Id%20FROM%20Quote');
  for (const p of PERSONAS) {
    for (const x of p.tryThis) {
      t.notMatch(x.path, /[ '"+#]|%2F|%5C|%25/i, `${p.name}: ${x.path}`);
      t.match(x.path, /^\/services\/data\/v60\.0\//);
    }
  }
});

t.test('shellQuote survives a round trip through bash', async (t) => {
  const s = `it's "quoted" $HOME \`x\` \\ !`;
  const { stdout } = await run('bash', ['-c', `printf %s ${shellQuote(s)}`]);
  t.equal(stdout, s);
});

t.test('persona tokens: access token with the persona claims, posture for the sub', async (t) => {
  const iss = await startDevIssuer();
  t.teardown(() => iss.close());
  const eu = await issuePersonaTokens(iss, findPersona('eu-rep')!);
  const { payload } = await jwtVerify(eu.posture!, createLocalJWKSet(iss.deviceTrust.jwks));
  t.match(payload, { sub: 'u-eu-rep', managed: true, compliant: true, platform: 'macos' });
  const bot = await issuePersonaTokens(iss, findPersona('quote-bot')!);
  t.equal(bot.posture, undefined);
});

t.test('personaCommands is a valid shell script whose requests arrive as intended', async (t) => {
  const iss = await startDevIssuer();
  const crm = await startDemoCrm();
  t.teardown(async () => {
    await iss.close();
    await crm.close();
  });
  const tokens: Partial<Record<PersonaName, PersonaTokens>> = {};
  for (const p of PERSONAS) tokens[p.name] = await issuePersonaTokens(iss, p);
  const state = { issuer: iss.issuer, audience: iss.audience, gatewayUrl: crm.url + '/', keyFile: '/dev/null' };

  const script = personaCommands(state, tokens);
  t.match(script, `${crm.url}/sf/services/data/v60.0/query?q=SELECT%20Id,%20Name`);
  t.match(script, '# create a Quote with a 35% discount: refused, automation may discount at most 20% (expect 403 automation.discount_limit)');
  t.match(script, "-H 'content-type: application/json' --data '{");
  t.match(script, '"x-device-posture-assertion: $EU_REP_POSTURE"');
  t.notMatch(script, 'QUOTE_BOT_POSTURE');
  t.equal((script.match(/^curl /gm) ?? []).length, 10);
  t.equal((script.match(/^# /gm) ?? []).length, 14, 'a header per persona and a comment per command');
  await run('bash', ['-n', '-c', script]);

  // run it for real against the demo CRM mounted at the root (routePrefix ''), with curl if present
  const hasCurl = await run('bash', ['-c', 'command -v curl']).then(() => true, () => false);
  if (!hasCurl) {
    t.comment('curl not installed: not running the script');
    return;
  }
  const direct = personaCommands({ ...state, gatewayUrl: crm.url }, tokens, { routePrefix: '' });
  const before = crm.requests.length;
  const { stdout } = await run('bash', ['-e', '-c', direct], { maxBuffer: 16 * 1024 * 1024 });
  const seen = crm.requests.slice(before);
  const expected = PERSONAS.flatMap((p) => p.tryThis.map((x) => ({ p, x })));
  t.equal(seen.length, expected.length);
  expected.forEach(({ p, x }, i) => {
    const rec = seen[i]!;
    t.equal(rec.method, x.method, `${p.name} #${i} method`);
    t.equal(rec.url, x.path, `${p.name} #${i} target arrives byte for byte`);
    t.equal(rec.headers.authorization, `Bearer ${tokens[p.name]!.accessToken}`);
    t.equal(rec.headers['x-device-posture-assertion'], tokens[p.name]!.posture);
    if (x.body) {
      t.equal(rec.headers['content-type'], 'application/json');
      t.same(JSON.parse(rec.body), x.body);
    }
  });
  const q = new URL(crm.url + seen[0]!.url).searchParams.get('q');
  t.equal(q, 'SELECT Id, Name, Email, Phone, SSN__c, DateOfBirth__c, Tenant__c, Region__c FROM Contact LIMIT 20');
  // the CRM alone filters nothing: the page mixes tenants (the gateway's job is to remove them)
  t.match(stdout, /HTTP\/1\.1 200/);
  t.match(stdout, /HTTP\/1\.1 201/);
  t.match(stdout, DATASET.Contact.find((c) => c.Id === DEMO_IDS.globexUsContact)!.SSN__c as string);
});

t.test('curlCommand inlines the tokens and stays one valid shell line', async (t) => {
  const x = findPersona('quote-bot')!.tryThis[0]!;
  const line = curlCommand('http://127.0.0.1:1', x, { accessToken: 'a.b.c' });
  t.equal(
    line,
    `curl -sS -i -H 'authorization: Bearer a.b.c' -H 'content-type: application/json' --data '${JSON.stringify(x.body)}' 'http://127.0.0.1:1/sf/services/data/v60.0/sobjects/Quote'`,
  );
  const patch = curlCommand('http://h', { what: 'w', method: 'PATCH', path: '/p', body: { A: "it's" }, expect: { status: 204 } }, { accessToken: 't', posture: 'p' });
  t.equal(patch, `curl -sS -i -X PATCH -H 'authorization: Bearer t' -H 'x-device-posture-assertion: p' -H 'content-type: application/json' --data '{"A":"it'\\''s"}' 'http://h/sf/p'`);
  await run('bash', ['-n', '-c', patch]);
});
