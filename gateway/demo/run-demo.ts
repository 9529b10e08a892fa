/**
 * `npm start`: the embedded demo. Starts a Salesforce-shaped CRM and a development token issuer
 * on loopback, the real gateway in front of them (same code path as production: validated
 * config, Wasm policy bundle, decision log), writes var/demo/state.json for `npm run token`,
 * and prints ready-to-paste curl commands for each persona.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../config/load.ts';
import { startGateway, type RunningGateway } from '../start.ts';
import { startDemoCrm } from './crm-upstream.ts';
import { startDevIssuer } from './dev-issuer.ts';
import { PERSONAS, issuePersonaTokens, type PersonaName, type PersonaTokens } from './personas.ts';
import { personaCommands, DEMO_ROUTE_PREFIX } from './print-commands.ts';
import { DEFAULT_KEY_FILE, DEFAULT_STATE_FILE, writeDemoState } from './state.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The ready-to-paste replay, explain (and query, when that verb exists) lines for the demo's trail. */
export function auditCommands(logRoot: string, withQuery: boolean): string {
  let s = `Re-evaluate every decision against the policy bundle that made it (expect 0 mismatches):\n  npm run audit -- replay ${logRoot}\n`;
  s += `Explain one decision in words (paste an x-decision-id from an answer):\n  npm run audit -- explain ${logRoot} <decision-id>\n`;
  if (withQuery) s += `Ask the trail in SQL:\n  npm run audit -- query ${logRoot} "SELECT reason, count(*) FROM denials GROUP BY 1"\n`;
  return s;
}

export async function runDemo(): Promise<{ close(): Promise<void> }> {
  const keyFile = join(root, DEFAULT_KEY_FILE);
  const issuer = await startDevIssuer({ keyFile });
  const crm = await startDemoCrm();
  const rawConfig = (port: number) => ({
    listen: { host: '127.0.0.1', port },
    gateway: { region: 'EU', instanceId: 'demo' },
    upstreams: [{ name: 'demo-crm', url: crm.url, prefix: DEMO_ROUTE_PREFIX, adapter: 'salesforce' }],
    issuers: [{ issuer: issuer.issuer, audience: issuer.audience, algorithms: ['ES256'], allowInsecureHttp: true }],
    deviceTrust: { issuer: issuer.deviceTrust.issuer, jwks: issuer.deviceTrust.jwks },
    policy: { bundle: 'dist/bundle.tar.gz' },
    decisionLog: { dir: 'var/demo/decisions' },
    logging: { level: process.env.LOG_LEVEL ?? 'warn' },
  });
  const wanted = Number(process.env.PORT ?? 8080);
  let gw: RunningGateway;
  try {
    gw = await startGateway(validateConfig(rawConfig(wanted), root));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    console.error(`port ${wanted} is in use; the demo takes a free port instead (set PORT to choose one)`);
    gw = await startGateway(validateConfig(rawConfig(0), root));
  }
  await writeDemoState({ issuer: issuer.issuer, audience: issuer.audience, gatewayUrl: gw.url, keyFile }, join(root, DEFAULT_STATE_FILE));
  const tokens: Partial<Record<PersonaName, PersonaTokens>> = {};
  for (const p of PERSONAS) tokens[p.name] = await issuePersonaTokens(issuer, p);

  const out = process.stdout;
  out.write(`\nCRM perimeter gateway demo — listening on ${gw.url}\n`);
  out.write(`  demo CRM (Salesforce-shaped) ${crm.url} mounted at ${DEMO_ROUTE_PREFIX}\n`);
  out.write(`  token issuer ${issuer.issuer} · policy revision ${gw.engine.revision}\n`);
  out.write(`  decision log ${gw.decisionLog.file}\n\n`);
  out.write('Paste a persona block into another terminal (tokens are valid for 1 hour;\n');
  out.write('`npm run token -- --persona NAME` prints fresh ones):\n\n');
  out.write(personaCommands({ issuer: issuer.issuer, audience: issuer.audience, gatewayUrl: gw.url, keyFile }, tokens));
  out.write(`\nEvery answer carries an x-decision-id header; find its record with:\n  grep <decision-id> ${gw.decisionLog.file}\n`);
  const logRoot = relative(root, dirname(gw.decisionLog.instanceDir)) || '.';
  out.write(`After a few requests, check the trail's hash chain and signed checkpoints:\n  npm run audit -- verify ${logRoot}\n`);
  out.write(auditCommands(logRoot, existsSync(join(root, 'audit', 'query.ts'))));
  out.write('\nCtrl-C stops the demo.\n');

  return {
    async close() {
      await gw.close();
      await crm.close();
      await issuer.close();
    },
  };
}
