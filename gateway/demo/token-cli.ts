/**
 * Prints a demo persona's access token, its posture assertion (when it has a device) and
 * ready-to-paste curl lines, signed with the running demo's keys.
 *
 *   node gateway/demo/token-cli.ts --persona eu-rep [--state var/demo/state.json] [--json]
 *
 * Exit codes: 0 printed; 2 usage error, unknown persona, or no running demo (no state file).
 */
import { parseArgs } from 'node:util';
import { createDevSigner, readKeyFile } from './dev-issuer.ts';
import { findPersona, issuePersonaTokens, PERSONA_NAMES } from './personas.ts';
import { curlCommand, expectComment } from './print-commands.ts';
import { DEFAULT_STATE_FILE, readDemoState } from './state.ts';

export type CliIo = { readonly out: (line: string) => void; readonly err: (line: string) => void };

const USAGE = `usage: npm run token -- --persona NAME [--state ${DEFAULT_STATE_FILE}] [--json]`;

/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function runTokenCli(argv: readonly string[], io: CliIo): Promise<number> {
  let values: { persona?: string; state?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        persona: { type: 'string', short: 'p' },
        state: { type: 'string', default: DEFAULT_STATE_FILE },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\npersonas: ${PERSONA_NAMES.join(', ')}`);
    return 0;
  }
  if (values.persona === undefined) {
    io.err(`--persona is required\n${USAGE}\npersonas: ${PERSONA_NAMES.join(', ')}`);
    return 2;
  }
  const persona = findPersona(values.persona);
  if (persona === undefined) {
    io.err(`unknown persona '${values.persona}'; personas: ${PERSONA_NAMES.join(', ')}`);
    return 2;
  }
  const statePath = values.state ?? DEFAULT_STATE_FILE;
  let state;
  try {
    state = await readDemoState(statePath);
  } catch (err) {
    io.err((err as Error).message);
    return 2;
  }
  if (state === undefined) {
    io.err(`no demo state at ${statePath}: run \`npm start\` first (it writes this file), then try again`);
    return 2;
  }
  let keys;
  try {
    keys = await readKeyFile(state.keyFile);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.err(e.code === 'ENOENT' ? `no key file at ${state.keyFile}: run \`npm start\` first` : e.message);
    return 2;
  }
  const signer = await createDevSigner(keys, state.issuer);
  const tokens = await issuePersonaTokens(signer, persona);

  if (values.json) {
    io.out(JSON.stringify({ persona: persona.name, accessToken: tokens.accessToken, ...(tokens.posture ? { posture: tokens.posture } : {}) }));
    return 0;
  }
  io.out(`# ${persona.name}: ${persona.description}`);
  io.out(`# access token (expires in 1 hour)`);
  io.out(tokens.accessToken);
  if (tokens.posture !== undefined) {
    io.out(`# device posture assertion (header x-device-posture-assertion, expires in 10 minutes)`);
    io.out(tokens.posture);
  }
  for (const t of persona.tryThis) {
    io.out('');
    io.out(expectComment(t));
    io.out(curlCommand(state.gatewayUrl, t, tokens));
  }
  return 0;
}

if (import.meta.main) {
  const code = await runTokenCli(process.argv.slice(2), {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
  });
  process.exitCode = code;
}
