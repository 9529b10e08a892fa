/**
 * The policy bundle archive beside the log: `<dir>/bundles/<sha256>.tar.gz`, content-addressed,
 * so the bundle behind any record (`provenance.bundle_sha256`) can be found and its decisions
 * replayed after the policy changed. Written once per content (a present file is kept).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from './checkpoint.ts';

/**
 * Copy the bundle file into the archive unless it is there already; returns the archived path.
 * `expectedSha256` is the hash of the bundle the engine loaded: a file that changed since is
 * refused, so the archive never holds a bundle other than the one the records name.
 */
export async function archiveBundle(logDir: string, bundlePath: string, expectedSha256: string): Promise<string> {
  const dir = join(logDir, 'bundles');
  const target = join(dir, `${expectedSha256}.tar.gz`);
  try {
    await stat(target);
    return target;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const bytes = await readFile(bundlePath);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== expectedSha256) {
    throw new Error(`policy.bundle: ${bundlePath} changed while the gateway started (sha256 ${sha}, loaded ${expectedSha256}); start again`);
  }
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await writeFileDurably(target, bytes, 0o440);
  return target;
}
