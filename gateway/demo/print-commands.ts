/**
 * Ready-to-paste curl commands for the demo personas. The whole output of `personaCommands` is a
 * valid shell script: each persona's block first assigns its tokens to shell variables, then
 * runs its "try this" requests, each preceded by a one-line comment naming the expected outcome.
 */
import { PERSONAS, type Persona, type PersonaName, type PersonaTokens, type TryThis } from './personas.ts';
import type { DemoState } from './state.ts';

/** Where the gateway mounts the demo CRM. */
export const DEMO_ROUTE_PREFIX = '/sf';
export const POSTURE_HEADER = 'x-device-posture-assertion';

export type CommandOptions = {
  /** The gateway's route prefix for the demo CRM; default '/sf'. */
  readonly routePrefix?: string;
};

/** Quotes `s` as one POSIX shell word. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The full URL of a "try this" request through the gateway. */
export function gatewayTarget(gatewayUrl: string, t: TryThis, opts: CommandOptions = {}): string {
  return `${gatewayUrl.replace(/\/+$/, '')}${opts.routePrefix ?? DEMO_ROUTE_PREFIX}${t.path}`;
}

/** The expected outcome as a comment, e.g. `# list Contacts: … (expect 403 device.unmanaged)`. */
export function expectComment(t: TryThis): string {
  return `# ${t.what} (expect ${t.expect.status}${t.expect.reason ? ` ${t.expect.reason}` : ''})`;
}

/**
 * One curl command. `authWord` and `postureWord` are shell words that expand to the header
 * values (a quoted literal or a double-quoted variable reference).
 */
function curl(url: string, t: TryThis, authWord: string, postureWord?: string): string {
  const parts = ['curl -sS -i'];
  if (t.method !== 'GET' && t.method !== 'POST') parts.push(`-X ${t.method}`);
  if (t.method === 'POST' && t.body === undefined) parts.push('-X POST');
  parts.push(`-H ${authWord}`);
  if (postureWord !== undefined) parts.push(`-H ${postureWord}`);
  if (t.body !== undefined) parts.push(`-H 'content-type: application/json'`, `--data ${shellQuote(JSON.stringify(t.body))}`);
  parts.push(shellQuote(url));
  return parts.join(' ');
}

/** A self-contained curl command with the tokens inline (for the token CLI). */
export function curlCommand(gatewayUrl: string, t: TryThis, tokens: PersonaTokens, opts: CommandOptions = {}): string {
  return curl(
    gatewayTarget(gatewayUrl, t, opts),
    t,
    shellQuote(`authorization: Bearer ${tokens.accessToken}`),
    tokens.posture === undefined ? undefined : shellQuote(`${POSTURE_HEADER}: ${tokens.posture}`),
  );
}

/** Shell variable names for a persona's tokens, e.g. EU_REP_TOKEN / EU_REP_POSTURE. */
export function tokenVariables(name: PersonaName): { readonly token: string; readonly posture: string } {
  const stem = name.toUpperCase().replaceAll('-', '_');
  return { token: `${stem}_TOKEN`, posture: `${stem}_POSTURE` };
}

/** The commands for one persona: token assignments, then each request with its expectation. */
export function personaBlock(state: DemoState, persona: Persona, tokens: PersonaTokens, opts: CommandOptions = {}): string {
  const vars = tokenVariables(persona.name);
  const lines = [`# ── ${persona.name}: ${persona.description}`, `${vars.token}=${shellQuote(tokens.accessToken)}`];
  if (tokens.posture !== undefined) lines.push(`${vars.posture}=${shellQuote(tokens.posture)}`);
  for (const t of persona.tryThis) {
    lines.push(
      expectComment(t),
      curl(
        gatewayTarget(state.gatewayUrl, t, opts),
        t,
        `"authorization: Bearer $${vars.token}"`,
        tokens.posture === undefined ? undefined : `"${POSTURE_HEADER}: $${vars.posture}"`,
      ),
    );
  }
  return lines.join('\n');
}

/**
 * The ready-to-paste commands for every persona that has tokens in `tokens`, as one shell
 * script (blocks separated by blank lines, ending with a newline).
 */
export function personaCommands(
  state: DemoState,
  tokens: Readonly<Partial<Record<PersonaName, PersonaTokens>>>,
  opts: CommandOptions = {},
): string {
  const blocks: string[] = [];
  for (const p of PERSONAS) {
    const t = tokens[p.name];
    if (t !== undefined) blocks.push(personaBlock(state, p, t, opts));
  }
  return blocks.join('\n\n') + '\n';
}
