/**
 * A bounded cache of verification results (tokens, posture assertions), keyed by the SHA-256 of
 * the credential — never the credential itself — so a repeated token costs a hash and a map
 * lookup instead of a signature check. An entry lives until the credential expires or at most
 * `maxTtlMs`, whichever is first, and only while the caller's `valid` check holds: the token cache
 * passes one that asks the issuer's key set whether the key that verified the token is still
 * published, so a key removed at the IdP stops being honoured from the cache at the next refetch.
 */
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export type VerifiedCache<T extends {}> = {
  /** The cached value, unless expired or `valid` says no (the entry is then dropped). */
  get(credential: string, nowMs: number, valid?: (value: T) => boolean): T | undefined;
  set(credential: string, value: T, expiresAtMs: number, nowMs: number): void;
  size(): number;
};

export function credentialHash(credential: string): string {
  return hash('sha256', credential, 'base64url'); // one-shot: cheaper than createHash per request
}

export function createVerifiedCache<T extends {}>(o: { max: number; maxTtlMs: number }): VerifiedCache<T> {
  // lru-cache refuses max 0, which the schema documents as "cache off": no cache object at all then.
  const lru = new LRUCache<string, { value: T; expiresAtMs: number }>({ max: Math.max(1, o.max) });
  return {
    get(credential, nowMs, valid) {
      if (o.max === 0) return undefined;
      const key = credentialHash(credential);
      const hit = lru.get(key);
      if (!hit) return undefined;
      if (hit.expiresAtMs <= nowMs || (valid !== undefined && !valid(hit.value))) {
        lru.delete(key);
        return undefined;
      }
      return hit.value;
    },
    set(credential, value, expiresAtMs, nowMs) {
      if (o.max === 0) return;
      const until = Math.min(expiresAtMs, nowMs + o.maxTtlMs);
      if (until <= nowMs) return;
      lru.set(credentialHash(credential), { value, expiresAtMs: until });
    },
    size: () => lru.size,
  };
}
