/**
 * The running demo's state file: where its issuer, gateway and key file are, so that the token
 * CLI (another process) can sign tokens the running demo accepts. Written by the demo on start.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const DEFAULT_STATE_FILE = 'var/demo/state.json';
export const DEFAULT_KEY_FILE = 'var/demo/keys.json';

export type DemoState = {
  /** The dev issuer's URL, exactly the `iss` of its tokens. */
  readonly issuer: string;
  readonly audience: string;
  /** The gateway's base URL, e.g. http://127.0.0.1:PORT (the demo CRM is mounted under /sf). */
  readonly gatewayUrl: string;
  /** Path of the issuer's private key file (absolute, or relative to the demo's working directory). */
  readonly keyFile: string;
};

/** Reads the state file; `undefined` when there is none (the demo is not running). */
export async function readDemoState(path: string = DEFAULT_STATE_FILE): Promise<DemoState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`state file ${path}: not valid JSON`);
  }
  const rec = doc as Record<string, unknown> | null;
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new Error(`state file ${path}: not a JSON object`);
  for (const key of ['issuer', 'audience', 'gatewayUrl', 'keyFile'] as const) {
    if (typeof rec[key] !== 'string' || rec[key] === '') throw new Error(`state file ${path}: ${key} must be a non-empty string`);
  }
  return Object.freeze({
    issuer: rec.issuer as string,
    audience: rec.audience as string,
    gatewayUrl: rec.gatewayUrl as string,
    keyFile: rec.keyFile as string,
  });
}

/** Writes the state file atomically (a reader never sees half a file), creating its directory. */
export async function writeDemoState(state: DemoState, path: string = DEFAULT_STATE_FILE): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const { issuer, audience, gatewayUrl, keyFile } = state;
  await writeFile(tmp, JSON.stringify({ issuer, audience, gatewayUrl, keyFile }, null, 2) + '\n', { mode: 0o644 });
  await rename(tmp, path);
}
