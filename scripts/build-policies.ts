/**
 * Compiles policies/ into dist/bundle.tar.gz with `opa build -t wasm`:
 * - capabilities = the builtins @open-policy-agent/opa-wasm implements, minus every builtin that
 *   reads the clock, the network or randomness. A policy using one fails to BUILD, so every
 *   decision can be replayed from its logged input (env.now is passed in instead);
 * - revision = SHA-256 over the policy source files (path and content), so the same source
 *   always gives the same revision and any edit gives a new one.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const srcDir = arg('--src', join(root, 'policies'));
const out = arg('--out', join(root, 'dist', 'bundle.tar.gz'));
const entrypoint = arg('--entrypoint', 'crm/authz/decision');
const opa = join(root, 'tools', 'bin', 'opa');

/** Builtins that make a decision depend on something other than its input and the bundle. */
export const NON_DETERMINISTIC = [
  'time.now_ns',
  'rand.intn',
  'uuid.rfc4122',
  'http.send',
  'net.lookup_ip_addr',
  'opa.runtime',
  'trace', // writes to the evaluation trace, not part of the decision; kept out so output never differs
  'io.jwt.encode_sign', // can mint fresh tokens; a decision has no business doing so
  'io.jwt.encode_sign_raw',
  'crypto.x509.parse_and_verify_certificates', // verifies against the current time
  'crypto.x509.parse_and_verify_certificates_with_options',
  'io.jwt.decode_verify', // defaults to the current time when none is given
];

function files(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    })
    .sort();
}

const hash = createHash('sha256');
for (const f of files(srcDir)) {
  hash.update(relative(srcDir, f)).update('\0').update(readFileSync(f)).update('\0');
}
const revision = `sha256:${hash.digest('hex').slice(0, 32)}`;

// The CLI's own capabilities (its Rego features, e.g. rego_v1), restricted to the builtins the
// npm SDK can run (a builtin missing there would fail at evaluation time, opa-wasm #22/#23).
const current = JSON.parse(execFileSync(opa, ['capabilities', '--current'], { encoding: 'utf8' })) as { builtins: { name: string }[] };
const sdk = JSON.parse(readFileSync(join(root, 'node_modules/@open-policy-agent/opa-wasm/capabilities.json'), 'utf8')) as {
  builtins: { name: string }[];
};
const sdkNames = new Set(sdk.builtins.map((b) => b.name));
const caps = { ...current, builtins: current.builtins.filter((b) => sdkNames.has(b.name) && !NON_DETERMINISTIC.includes(b.name)) };
mkdirSync(dirname(out), { recursive: true });
const capsPath = join(dirname(out), 'capabilities.json');
writeFileSync(capsPath, JSON.stringify(caps, null, 1));

// The decision-log mask rule (OPA's system.log.mask) is a second entrypoint, built only when the
// policy source defines package system.log (a bundle without it has no mask rule).
const MASK_ENTRYPOINT = 'system/log/mask';
const definesMask = files(srcDir).some((f) => f.endsWith('.rego') && /^package\s+system\.log\s*$/m.test(readFileSync(f, 'utf8')));
const entrypoints = ['-e', entrypoint, ...(definesMask ? ['-e', MASK_ENTRYPOINT] : [])];

try {
  // Run inside the source folder and name it '.': the bundle's file paths are then relative to
  // it (/crm/authz/…), so the same source gives the same bundle bytes wherever it is checked out.
  execFileSync(opa, ['build', '-t', 'wasm', ...entrypoints, '--capabilities', resolve(capsPath), '--revision', revision, '-o', resolve(out), '.'], {
    cwd: srcDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
} catch (err) {
  // OPA's own message names the rule and the builtin (e.g. an undefined time.now_ns).
  const e = err as { stdout?: Buffer; stderr?: Buffer };
  process.stderr.write(String(e.stdout ?? '') + String(e.stderr ?? ''));
  console.error(`build-policies: opa build failed for ${srcDir}`);
  process.exit(1);
}
console.error(`build-policies: ${relative(process.cwd(), out) || out} revision ${revision}, entrypoints ${entrypoints.filter((_, i) => i % 2 === 1).join(', ')} (${caps.builtins.length} builtins allowed)`);
