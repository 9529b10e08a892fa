/**
 * Issue 4 §4, completeness after `kill -9`: the real gateway runs in a child process
 * (`node gateway/main.ts --config <temp yaml>`, decisionLog.durability fsync) in front of the dev
 * issuer and the demo CRM started here on 127.0.0.1. 8 clients send requests for ~1.5 s and keep
 * the x-decision-id of every answer they received in full (allowed 2xx and refused 4xx); the
 * gateway is SIGKILLed mid-load, then restarted on the same log folder. Then:
 *  - the restart cut exactly the torn tail the kill left (if any) and appended a `recovery`
 *    record naming it;
 *  - `verify` passes over the whole trail;
 *  - every decision id a client saw has its decision record, and every allowed one its outcome.
 * Bounded: ≤ 1.5 s of load, a few hundred to a few thousand requests, every wait with a timeout.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyLog } from '../../audit/verify.ts';
import { startDemoCrm } from '../../gateway/demo/crm-upstream.ts';
import { startDevIssuer } from '../../gateway/demo/dev-issuer.ts';
import { findPersona, issuePersonaTokens } from '../../gateway/demo/personas.ts';
import { ROOT, soql } from './helpers/harness.ts';

const CLIENTS = 8;
const LOAD_MS = 1500;
const KILL_AFTER_MS = 700;

const tmp = await mkdtemp(join(tmpdir(), 'gw-crash-'));
const dev = await startDevIssuer({ keyFile: join(tmp, 'keys.json') });
const crm = await startDemoCrm();
t.teardown(async () => {
  await crm.close();
  await dev.close();
  await rm(tmp, { recursive: true, force: true });
});

const logRoot = join(tmp, 'decisions');
const configFile = join(tmp, 'gateway.yaml');
// JSON is YAML: the config file the child reads.
await writeFile(
  configFile,
  JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    gateway: { region: 'EU', instanceId: 'crash' },
    upstreams: [{ name: 'crm', url: crm.url, prefix: '/sf', adapter: 'salesforce' }],
    issuers: [{ issuer: dev.issuer, audience: dev.audience, algorithms: ['ES256'], allowInsecureHttp: true, clockToleranceSeconds: 5 }],
    deviceTrust: { issuer: dev.deviceTrust.issuer, jwks: dev.deviceTrust.jwks },
    policy: { bundle: join(ROOT, 'dist', 'bundle.tar.gz') },
    decisionLog: { dir: logRoot, durability: 'fsync' },
    logging: { level: 'info' },
  }),
);

/** Starts `node gateway/main.ts --config …` and resolves with its URL once it listens. */
async function startChild(): Promise<{ child: ChildProcess; url: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['gateway/main.ts', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 20 s:\n${out}\n${err}`)), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      for (const line of out.split('\n')) {
        if (!line.includes('gateway listening')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
        return;
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before listening:\n${out}\n${err}`)));
  });
  return { child, url, exited };
}

t.test('kill -9 under load: the torn tail is cut, a recovery record appended, verify passes, every answer has its records', async (t) => {
  const p = findPersona('eu-rep')!;
  const { accessToken, posture } = await issuePersonaTokens(dev, p);
  const target = soql('SELECT Id, Name, Tenant__c, Region__c FROM Contact LIMIT 5');

  const first = await startChild();
  const seen: { id: string; status: number }[] = [];
  let killed = false;
  const stopAt = Date.now() + LOAD_MS;
  const client = async (n: number) => {
    for (let i = 0; !killed && Date.now() < stopAt; i++) {
      // Every fourth request carries no token: a refusal (decision record only).
      const headers: Record<string, string> = i % 4 === 3 ? {} : { authorization: `Bearer ${accessToken}`, 'x-device-posture-assertion': posture! };
      try {
        const res = await fetch(first.url + target, { headers, signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer(); // received in full
        const id = res.headers.get('x-decision-id');
        if (id && res.status < 500) seen.push({ id, status: res.status });
      } catch {
        // the connection died with the gateway: this answer was not received
        if (killed) return;
      }
      void n;
    }
  };
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
  first.child.kill('SIGKILL');
  killed = true;
  await first.exited;
  await load;
  t.ok(seen.length > 50, `${seen.length} answers received before the kill`);
  t.ok(seen.some((s) => s.status === 200) && seen.some((s) => s.status === 401), 'allowed and refused requests');

  // What the kill left: the open segment, maybe with a torn last line.
  const instanceDir = join(logRoot, 'crash');
  const segments = async () => (await readdir(instanceDir)).filter((n) => /^segment-\d{12}\.jsonl$/.test(n)).sort();
  const before = await segments();
  const openSeg = before[before.length - 1]!;
  const bytes = await readFile(join(instanceDir, openSeg));
  const torn = bytes.length - (bytes.lastIndexOf(0x0a) + 1);

  const second = await startChild();
  second.child.kill('SIGTERM'); // a clean stop: the new segment is sealed
  await second.exited;

  const after = await segments();
  t.equal(after.length, before.length + 1, 'the restart opened one new segment');
  const recoveredBytes = await readFile(join(instanceDir, openSeg));
  t.equal(recoveredBytes.length, bytes.length - torn, `the torn tail (${torn} bytes) is cut, nothing else`);
  const recovery = JSON.parse((await readFile(join(instanceDir, after[after.length - 1]!), 'utf8')).split('\n')[0]!) as Record<string, unknown>;
  t.match(recovery, { kind: 'recovery', segment: openSeg, truncated_bytes: torn }, 'the first record after the restart is the recovery record');
  if (torn === 0) t.notOk('truncated_sha256' in recovery, 'the kill fell between two batches');

  const result = await verifyLog(logRoot);
  t.strictSame(result.problems, [], 'verify passes');

  const records: Record<string, unknown>[] = [];
  for (const name of after) {
    for (const l of (await readFile(join(instanceDir, name), 'utf8')).split('\n')) if (l !== '') records.push(JSON.parse(l) as Record<string, unknown>);
  }
  const decisions = new Set(records.filter((r) => r.kind === 'decision').map((r) => r.decision_id));
  const outcomes = new Set(records.filter((r) => r.kind === 'outcome').map((r) => r.decision_id));
  const missingDecision = seen.filter((s) => !decisions.has(s.id));
  const missingOutcome = seen.filter((s) => s.status < 300 && !outcomes.has(s.id));
  t.strictSame(missingDecision, [], `every one of the ${seen.length} answers has its decision record`);
  t.strictSame(missingOutcome, [], `every one of the ${seen.filter((s) => s.status < 300).length} allowed answers has its outcome record`);
});
