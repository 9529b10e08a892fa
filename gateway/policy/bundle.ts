/**
 * Reads an OPA bundle built with `opa build -t wasm` (a gzipped tar holding /policy.wasm,
 * /data.json and /.manifest) into memory. The manifest's revision identifies the policy source
 * and goes into every decision record.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { Parser, type ReadEntry } from 'tar';

export type Bundle = {
  readonly wasm: Uint8Array;
  readonly data: Record<string, unknown>;
  readonly revision: string;
  readonly entrypoints: readonly string[];
  /** SHA-256 of the bundle file, for provenance beside the revision. */
  readonly sha256: string;
  /** The Rego source opa build packs beside the Wasm (path → text), for explaining decisions. */
  readonly sources: ReadonlyMap<string, string>;
};

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

async function untar(gz: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolveP, rejectP) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => files.set(entry.path.replace(/^\/+/, ''), Buffer.concat(chunks)));
      },
    });
    parser.on('error', rejectP);
    parser.on('end', () => resolveP());
    parser.end(gz);
  });
  return files;
}

/** Load and check a bundle file; throws BundleError naming what is missing. */
export async function readBundle(path: string): Promise<Bundle> {
  let gz: Buffer;
  try {
    gz = await readFile(path);
  } catch (err) {
    throw new BundleError(`policy.bundle: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); run \`npm run build\``);
  }
  const files = await untar(gz).catch((err: Error) => {
    throw new BundleError(`policy.bundle: ${path} is not a gzipped tar bundle: ${err.message}`);
  });
  const wasm = files.get('policy.wasm');
  if (!wasm) throw new BundleError(`policy.bundle: ${path} has no policy.wasm; build it with opa build -t wasm`);
  const manifestRaw = files.get('.manifest');
  const parse = <T>(name: string, raw: Buffer): T => {
    try {
      return JSON.parse(raw.toString('utf8')) as T;
    } catch (err) {
      throw new BundleError(`policy.bundle: ${path} has an invalid ${name}: ${(err as Error).message}`);
    }
  };
  const manifest = manifestRaw ? parse<{ revision?: string; wasm?: { entrypoint: string }[] }>('.manifest', manifestRaw) : {};
  if (!manifest.revision) throw new BundleError(`policy.bundle: ${path} has no revision in .manifest; build with --revision`);
  const dataRaw = files.get('data.json');
  const data = dataRaw ? parse<Record<string, unknown>>('data.json', dataRaw) : {};
  return {
    wasm: new Uint8Array(wasm),
    data,
    revision: manifest.revision,
    entrypoints: (manifest.wasm ?? []).map((w) => w.entrypoint),
    sha256: createHash('sha256').update(gz).digest('hex'),
    sources: new Map([...files].filter(([name]) => name.endsWith('.rego')).map(([name, bytes]) => [name, bytes.toString('utf8')])),
  };
}
