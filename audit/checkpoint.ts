/**
 * Signed segment checkpoints, in the spirit of a Certificate Transparency signed tree head: when
 * a segment closes, the writer signs (Ed25519) its first and last seq, its line count and the
 * hash of its last line (the chain head). `verify` checks the signature against the published
 * public key, so a segment cut short or rewritten together with its chain is still caught unless
 * the signing key was taken too.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalJson } from './canonical-json.ts';

export type CheckpointBody = {
  readonly v: 1;
  readonly instance_id: string;
  /** File name of the segment, e.g. `segment-000000000001.jsonl`. */
  readonly segment: string;
  readonly first_seq: number;
  readonly last_seq: number;
  /** Hex SHA-256 of the segment's last line (newline included). */
  readonly head: string;
  readonly lines: number;
  /** RFC 3339 UTC, when the checkpoint was signed. */
  readonly signed_at: string;
  /** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key. */
  readonly key_id: string;
};

/** The body plus `signature`: base64 Ed25519 over the RFC 8785 canonical JSON of the body. */
export type Checkpoint = CheckpointBody & { readonly signature: string };

export type CheckpointKey = { readonly privateKey: KeyObject; readonly publicKey: KeyObject; readonly keyId: string };

export const PRIVATE_KEY_FILE = 'checkpoint-key.pem';
export const PUBLIC_KEY_FILE = 'checkpoint-key.pub.pem';
const PUBLIC_KEY_RE = /^checkpoint-key(-[A-Za-z0-9_-]+)?\.pub\.pem$/;

/** RFC 7638 thumbprint of an Ed25519 public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url');
}

function signedBytes(body: CheckpointBody): Buffer {
  const { v, instance_id, segment, first_seq, last_seq, head, lines, signed_at, key_id } = body;
  return Buffer.from(canonicalJson({ v, instance_id, segment, first_seq, last_seq, head, lines, signed_at, key_id })!, 'utf8');
}

export function signCheckpoint(body: CheckpointBody, key: CheckpointKey): Checkpoint {
  return { ...body, signature: sign(null, signedBytes(body), key.privateKey).toString('base64') };
}

/** True when `signature` is a valid Ed25519 signature of the body under `publicKey`. */
export function checkpointSignatureValid(cp: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(cp), publicKey, Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Write a file durably: temp file, fdatasync, rename, then sync the folder. */
export async function writeFileDurably(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** fsync a folder so that a file created or renamed in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * The signing key: `keyPath` (PKCS#8 PEM, Ed25519) when configured; otherwise the key generated
 * at first start in the instance folder (mode 0600), with a warning. The public key is published
 * as `checkpoint-key.pub.pem` in the instance folder; a previously published different key is
 * kept as `checkpoint-key-<key id>.pub.pem` so that older checkpoints still verify.
 */
export async function loadCheckpointKey(instanceDir: string, keyPath: string | undefined): Promise<CheckpointKey & { warning?: string }> {
  let privateKey: KeyObject;
  let warning: string | undefined;
  if (keyPath !== undefined) {
    let pem: string;
    try {
      pem = await readFile(keyPath, 'utf8');
    } catch (err) {
      throw new Error(`decisionLog.checkpointKey: cannot read ${keyPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      privateKey = createPrivateKey(pem);
    } catch {
      throw new Error(`decisionLog.checkpointKey: ${keyPath} is not a PEM private key`);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new Error(`decisionLog.checkpointKey: ${keyPath} is a ${privateKey.asymmetricKeyType ?? 'non-asymmetric'} key, expected Ed25519`);
    }
  } else {
    const path = join(instanceDir, PRIVATE_KEY_FILE);
    let pem: string | undefined;
    try {
      pem = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (pem === undefined) {
      pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
      warning = `decisionLog.checkpointKey is not set: generated an Ed25519 checkpoint key at ${path}; production should supply one kept off the log host`;
    } else {
      warning = `decisionLog.checkpointKey is not set: signing checkpoints with the generated key at ${path}; production should supply one kept off the log host`;
    }
    privateKey = createPrivateKey(pem);
  }
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  const pubPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const pubPath = join(instanceDir, PUBLIC_KEY_FILE);
  let published: string | undefined;
  try {
    published = await readFile(pubPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (published !== pubPem) {
    if (published !== undefined) {
      try {
        const old = keyIdOf(createPublicKey(published));
        await rename(pubPath, join(instanceDir, `checkpoint-key-${old}.pub.pem`));
      } catch {
        // An unreadable published key is replaced; verify will say which checkpoints lost their key.
      }
    }
    await writeFileDurably(pubPath, pubPem, 0o644);
  }
  return { privateKey, publicKey, keyId, ...(warning !== undefined ? { warning } : {}) };
}

/** Every published public key of an instance folder, by key id. */
export async function publishedKeys(instanceDir: string): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const name of (await readdir(instanceDir)).filter((n) => PUBLIC_KEY_RE.test(n)).sort()) {
    try {
      const k = createPublicKey(await readFile(join(instanceDir, name), 'utf8'));
      if (k.asymmetricKeyType === 'ed25519') keys.set(keyIdOf(k), k);
    } catch {
      // not a key: ignored; checkpoints naming it fail as "unknown key"
    }
  }
  return keys;
}
