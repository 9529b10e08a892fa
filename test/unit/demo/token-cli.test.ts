import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { startDevIssuer } from '../../../gateway/demo/dev-issuer.ts';
import { runTokenCli } from '../../../gateway/demo/token-cli.ts';
import { readDemoState, writeDemoState } from '../../../gateway/demo/state.ts';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
};

t.test('state file round trip and validation', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"issuer": 1}', 'junk.json': 'nope' });
  const path = join(dir, 'sub', 'state.json');
  t.equal(await readDemoState(path), undefined);
  const state = { issuer: 'http://127.0.0.1:1', audience: 'crm-gateway', gatewayUrl: 'http://127.0.0.1:2', keyFile: '/k.json' };
  await writeDemoState(state, path);
  t.same(await readDemoState(path), state);
  await t.rejects(readDemoState(join(dir, 'bad.json')), /issuer must be a non-empty string/);
  await t.rejects(readDemoState(join(dir, 'junk.json')), /not valid JSON/);
});

t.test('no state file: says to run npm start, exits 2', async (t) => {
  const c = capture();
  t.equal(await runTokenCli(['--persona', 'eu-rep', '--state', join(t.testdir({}), 'none.json')], c.io), 2);
  t.match(c.err.join('\n'), /npm start/);
  t.same(c.out, []);
});

t.test('unknown or missing persona: lists the names, exits 2', async (t) => {
  const c = capture();
  t.equal(await runTokenCli(['--persona', 'mallory'], c.io), 2);
  t.match(c.err.join('\n'), /eu-rep, eu-rep-unmanaged, quote-bot, globex-user/);
  const d = capture();
  t.equal(await runTokenCli([], d.io), 2);
  t.match(d.err.join('\n'), /--persona is required/);
  const e = capture();
  t.equal(await runTokenCli(['--bogus'], e.io), 2);
});

t.test('prints tokens the running issuer accepts, and curl lines', async (t) => {
  const dir = t.testdir({});
  const keyFile = join(dir, 'keys.json');
  const iss = await startDevIssuer({ keyFile });
  t.teardown(() => iss.close());
  const statePath = join(dir, 'state.json');
  await writeDemoState({ issuer: iss.issuer, audience: iss.audience, gatewayUrl: 'http://127.0.0.1:9', keyFile }, statePath);

  const c = capture();
  t.equal(await runTokenCli(['--persona', 'eu-rep', '--state', statePath], c.io), 0);
  const lines = c.out;
  const jwts = lines.filter((l) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(l));
  t.equal(jwts.length, 2, 'access token and posture');
  const { payload } = await jwtVerify(jwts[0]!, createRemoteJWKSet(new URL(iss.jwksUri)), { issuer: iss.issuer, audience: 'crm-gateway', typ: 'at+jwt' });
  t.match(payload, { sub: 'u-eu-rep', tenant: 'acme' });
  await jwtVerify(jwts[1]!, createLocalJWKSet(iss.deviceTrust.jwks), { typ: 'posture+jwt' });
  const curls = lines.filter((l) => l.startsWith('curl '));
  t.equal(curls.length, 2);
  t.match(curls[0]!, `-H 'authorization: Bearer ${jwts[0]}' -H 'x-device-posture-assertion: ${jwts[1]}' 'http://127.0.0.1:9/sf/services/data/v60.0/query?q=SELECT%20`);

  const j = capture();
  t.equal(await runTokenCli(['--persona', 'quote-bot', '--state', statePath, '--json'], j.io), 0);
  const doc = JSON.parse(j.out.join(''));
  t.equal(doc.persona, 'quote-bot');
  t.notOk('posture' in doc);
  const bot = await jwtVerify(doc.accessToken, createRemoteJWKSet(new URL(iss.jwksUri)));
  t.equal(bot.payload.client_id, 'quote-bot');
});

t.test('runs as a script: exit code 2 without a state file', async (t) => {
  const script = new URL('../../../gateway/demo/token-cli.ts', import.meta.url).pathname;
  const err = await promisify(execFile)(process.execPath, [script, '--persona', 'eu-rep', '--state', join(t.testdir({}), 'x.json')]).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  t.equal(err?.code, 2);
  t.match(err?.stderr, /run `npm start` first/);
});
