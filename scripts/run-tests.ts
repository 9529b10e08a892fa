/**
 * `npm test`: the policy tests (`opa test`), the type check and the tap suite, then one closing
 * line `N passed, N failed` counting all three (CI reads that line; tap's own summary is not read).
 * Exits non-zero when anything failed or nothing ran.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tapArgs = process.argv.slice(2);
let passed = 0;
let failed = 0;

function run(cmd: string, args: string[]): { status: number; stdout: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout };
}

// 1. Rego: opa test, JSON report (one entry per test rule).
if (tapArgs.length === 0) {
  const opa = run(join(root, 'tools/bin/opa'), ['test', 'policies', 'test/policies', '--format', 'json']);
  let results: { name: string; package: string; fail?: boolean; error?: unknown }[] = [];
  try {
    results = JSON.parse(opa.stdout) as typeof results;
  } catch {
    console.log(opa.stdout);
  }
  const bad = results.filter((r) => r.fail || r.error);
  for (const r of bad) console.log(`not ok - opa test ${r.package}.${r.name}${r.error ? ` (error: ${JSON.stringify(r.error)})` : ''}`);
  passed += results.length - bad.length;
  failed += bad.length + (results.length === 0 || (opa.status !== 0 && bad.length === 0) ? 1 : 0);
  console.log(`# opa test: ${results.length - bad.length} passed, ${bad.length} failed`);

  // 2. Types: one check.
  const tsc = run(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json']);
  if (tsc.status === 0) passed++;
  else {
    failed++;
    console.log(tsc.stdout);
  }
  console.log(`# typecheck: ${tsc.status === 0 ? 'ok' : 'FAILED'}`);
}

// 3. tap: count its assertions from its closing summary.
const tap = spawnSync(join(root, 'node_modules/.bin/tap'), ['--reporter=tap', ...tapArgs], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
const out = tap.stdout ?? '';
process.stdout.write(out.split('\n').filter((l) => /^\s*not ok\b|^# (?!Subtest)|^ok|^not ok/.test(l)).join('\n') + '\n');
let tapPass = 0;
let tapFail = 0;
for (const line of out.split('\n')) {
  const m = /^(\s*)(ok|not ok) \d+/.exec(line);
  // Count leaf assertions only: a subtest line is followed by its own assertions, so count
  // assertions at any depth whose line has no "# Subtest" child; tap marks subtest ends with "# time=".
  if (m && !/# time=/.test(line)) {
    if (m[2] === 'ok') tapPass++;
    else if (!/# (TODO|SKIP)/.test(line)) tapFail++;
  }
}
if (tap.status !== 0 && tapFail === 0) tapFail = 1; // tap failed without a failing assertion line (crash, timeout)
if (tapPass + tapFail === 0) tapFail = 1; // nothing ran is a failure
passed += tapPass;
failed += tapFail;
console.log(`# tap: ${tapPass} passed, ${tapFail} failed (exit ${tap.status})`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
