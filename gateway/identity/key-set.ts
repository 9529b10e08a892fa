/**
 * One issuer's signing keys, fetched from its `jwks_uri` and held locally, with the behaviour a
 * perimeter needs written down in one place instead of inside jose's remote key set:
 *
 *  - keys are cached; a periodic refetch (`refreshMs`) picks up rotations;
 *  - a token whose `kid` is unknown triggers at most ONE refetch per `cooldownMs`, whatever the
 *    number of distinct unknown kids, and concurrent callers share the fetch in flight, so a flood
 *    of random kids cannot hammer the IdP;
 *  - a failed fetch never drops keys: known keys keep verifying until `maxStalenessMs` after the
 *    last successful fetch; after that, and for an unknown kid while the IdP cannot be reached, the
 *    answer is "unavailable" (503, the token may be valid), never "unknown key" (401);
 *  - failed background fetches are retried one at a time with doubling delays (bounded by
 *    `refreshMs` and one minute), and any success recovers without a restart;
 *  - every fetched key set is a generation; cached verifications remember the thumbprint of the
 *    key that verified them and are honoured only while that key is still published.
 *
 * Key selection is jose's own (`createLocalJWKSet`, one per published key, so the gateway knows
 * which key matched); header-carried key material (`jwk`, `jku`, `x5u`, `x5c`) is never read.
 */
import { calculateJwkThumbprint, createLocalJWKSet, type CompactJWSHeaderParameters, type CryptoKey, type JWK, type JWTVerifyGetKey } from 'jose';
import { createHash } from 'node:crypto';
import { safeParseJson } from '../json/safe-parse.ts';

export type KeySetFetch = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<Response>;

export type KeySetOptions = {
  readonly jwksUri: string;
  /** One fetch's deadline. */
  readonly timeoutMs: number;
  /** Refetch interval while the IdP answers. */
  readonly refreshMs: number;
  /** Shortest time between two refetches caused by unknown kids. */
  readonly cooldownMs: number;
  /** Known keys stop verifying this long after the last successful fetch. */
  readonly maxStalenessMs: number;
  /** Injectable for tests; global fetch (undici) otherwise. */
  readonly fetch?: KeySetFetch;
  /** Injectable clock (ms since the epoch) for tests. */
  readonly now?: () => number;
  readonly log?: (msg: string, extra?: object) => void;
  /** Called with the published (public) keys after each successful fetch, e.g. to write a cache file. */
  readonly onFetched?: (jwks: { readonly keys: readonly JWK[] }) => void;
};

/** The key that verified a token: what a cached verification is tied to. */
export type KeyRef = {
  readonly kid: string | undefined;
  /** RFC 7638 JWK thumbprint (SHA-256, base64url). */
  readonly thumbprint: string;
  /** The key-set generation in which the key was last seen; advanced by `holds`. */
  generation: number;
};

export type KeySelection =
  | { readonly ok: true; readonly key: CryptoKey; readonly ref: KeyRef }
  | { readonly ok: false; readonly why: 'unknown' | 'ambiguous' }
  | { readonly ok: false; readonly why: 'unavailable'; readonly detail: string; readonly retryAfterSeconds: number };

export type KeySetStatus = {
  readonly ready: boolean;
  readonly jwksUri: string;
  readonly kids: readonly string[];
  readonly generation: number;
  readonly fetches: { readonly ok: number; readonly failed: number; readonly onDemand: number };
  readonly lastSuccessAt?: string;
  readonly lastError?: string;
  readonly stale: boolean;
  /** The keys come from a cache (`seed`), not yet from a fetch. */
  readonly seeded?: boolean;
};

export type KeySet = {
  /** The published key for this JWS header, refetching once per cooldown for an unknown kid. */
  select(header: KeyQuery): Promise<KeySelection>;
  /** True while the key of `ref` is still published and the set is not stale. Cheap: one comparison when nothing changed. */
  holds(ref: KeyRef): boolean;
  /** First fetch, then the periodic refresh; resolves true when keys were had. Never rejects. */
  start(): Promise<boolean>;
  /** Fetch now (or join the fetch in flight); true on success. Never rejects. */
  refresh(): Promise<boolean>;
  /**
   * Start from keys obtained earlier (a cache file written at `fetchedAtMs`) instead of nothing:
   * they verify until `maxStalenessMs` after `fetchedAtMs`, like keys of a fetch at that time.
   * Ignored once a fetch has succeeded. Resolves false when no usable key was in `jwks`.
   */
  seed(jwks: unknown, fetchedAtMs: number): Promise<boolean>;
  /** The published keys of the last successful fetch (or seed). */
  jwks(): { readonly keys: readonly JWK[] };
  ready(): boolean;
  status(): KeySetStatus;
  stop(): void;
};

/** What key selection reads of a JWS header: nothing else (never `jwk`, `jku`, `x5u`, `x5c`). */
export type KeyQuery = { readonly alg: string; readonly kid?: string | undefined };

type Entry = { readonly kid: string | undefined; readonly thumbprint: string; readonly getKey: JWTVerifyGetKey; readonly jwk: JWK };

const MAX_JWKS_BYTES = 1_048_576; // 1 MiB: a key set is a few KiB
const MAX_BACKOFF_MS = 60_000; // 1 minute between background retries at most
const FIRST_BACKOFF_MS = 500; // 0.5 seconds after the first failure

export function createKeySet(o: KeySetOptions): KeySet {
  const now = o.now ?? Date.now;
  const fetchImpl: KeySetFetch = o.fetch ?? ((url, init) => fetch(url, init));
  const log = o.log ?? (() => {});
  let entries: readonly Entry[] = [];
  let thumbprints = new Set<string>();
  let generation = 0;
  let lastSuccessAt: number | undefined;
  let lastAttemptOk = false;
  let lastError: string | undefined;
  let lastOnDemandAt = -Infinity;
  let inFlight: Promise<boolean> | undefined;
  let failures = 0;
  let nextBackgroundAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let seeded = false;
  const counts = { ok: 0, failed: 0, onDemand: 0 };

  const stale = (t: number) => lastSuccessAt === undefined || t - lastSuccessAt > o.maxStalenessMs;

  const load = async (): Promise<readonly Entry[]> => {
    const res = await fetchImpl(o.jwksUri, {
      signal: AbortSignal.timeout(o.timeoutMs),
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`JWKS ${o.jwksUri} answered HTTP ${res.status}`);
    }
    const body = await readCapped(res, MAX_JWKS_BYTES);
    const parsed = safeParseJson(body, { maxDepth: 8 });
    if (!parsed.ok) throw new Error(`JWKS ${o.jwksUri} is not usable JSON: ${parsed.why}`);
    return entriesOf(parsed.value);
  };

  const entriesOf = async (value: unknown): Promise<readonly Entry[]> => {
    const keys = (value as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new Error(`JWKS ${o.jwksUri} has no "keys" array`);
    const out: Entry[] = [];
    for (const jwk of keys as JWK[]) {
      if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) continue;
      if (jwk.d !== undefined || jwk.k !== undefined) continue; // private or symmetric material is never a verification key
      let getKey: JWTVerifyGetKey;
      try {
        getKey = createLocalJWKSet({ keys: [jwk] });
      } catch {
        continue;
      }
      out.push({ kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, thumbprint: await thumbprintOf(jwk), getKey, jwk });
    }
    return out;
  };

  const schedule = () => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    const delay = lastAttemptOk ? o.refreshMs : Math.min(FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 1), o.refreshMs, MAX_BACKOFF_MS);
    nextBackgroundAt = now() + delay;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh().then(schedule);
    }, delay);
    timer.unref();
  };

  const refresh = (): Promise<boolean> => {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      try {
        const next = await load();
        const nextPrints = new Set(next.map((e) => e.thumbprint));
        const changed = nextPrints.size !== thumbprints.size || [...nextPrints].some((p) => !thumbprints.has(p));
        entries = next;
        if (changed) {
          thumbprints = nextPrints;
          generation++;
          log('issuer keys changed', { jwksUri: o.jwksUri, kids: next.map((e) => e.kid ?? '(none)'), generation });
        }
        lastSuccessAt = now();
        lastAttemptOk = true;
        lastError = undefined;
        failures = 0;
        counts.ok++;
        seeded = false;
        try {
          o.onFetched?.({ keys: next.map((e) => e.jwk) });
        } catch {
          // the callback's failure (a cache file that cannot be written) is its own to report
        }
        return true;
      } catch (err) {
        lastAttemptOk = false;
        lastError = (err as Error).name === 'TimeoutError' ? `JWKS ${o.jwksUri} timed out after ${o.timeoutMs} ms` : (err as Error).message;
        failures++;
        counts.failed++;
        log('issuer keys fetch failed; keeping the known keys', { jwksUri: o.jwksUri, error: lastError, failures });
        return false;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  /** jose's matching (kid, alg, kty, crv, use, key_ops) over each published key. */
  const match = async (header: KeyQuery): Promise<{ n: number; entry?: Entry; key?: CryptoKey }> => {
    let found: { entry: Entry; key: CryptoKey } | undefined;
    let n = 0;
    for (const entry of entries) {
      if (header.kid !== undefined && entry.kid !== header.kid) continue;
      try {
        const only: CompactJWSHeaderParameters = { alg: header.alg, ...(header.kid !== undefined ? { kid: header.kid } : {}) };
        const key = (await entry.getKey(only, { payload: '', signature: '' })) as CryptoKey;
        n++;
        found ??= { entry, key };
      } catch {
        // not usable for this header (another alg, kty or curve, or a key jose cannot import)
      }
    }
    return found ? { n, ...found } : { n };
  };

  const unavailable = (t: number, detail: string): KeySelection => {
    const waits = [lastOnDemandAt + o.cooldownMs - t, (nextBackgroundAt ?? t) - t].filter((w) => w > 0);
    const ms = waits.length > 0 ? Math.min(...waits) : 1000;
    return { ok: false, why: 'unavailable', detail, retryAfterSeconds: Math.min(3600, Math.max(1, Math.ceil(ms / 1000))) };
  };

  /** An on-demand refetch if the cooldown allows one (or the one in flight); false when none ran. */
  const onDemand = async (t: number): Promise<boolean> => {
    if (!inFlight) {
      if (t - lastOnDemandAt < o.cooldownMs) return false;
      lastOnDemandAt = t;
      counts.onDemand++;
    }
    await refresh();
    return true;
  };

  const select = async (header: KeyQuery): Promise<KeySelection> => {
    let t = now();
    if (stale(t)) {
      // Known keys are too old to trust (or there never were any): one refetch per cooldown may recover.
      await onDemand(t);
      t = now();
      if (stale(t)) {
        return unavailable(
          t,
          lastSuccessAt === undefined
            ? `issuer keys have not been fetched yet${lastError ? ` (${lastError})` : ''}`
            : `issuer keys are stale: last fetched ${Math.round((t - lastSuccessAt) / 1000)} s ago (maximum ${Math.round(o.maxStalenessMs / 1000)} s)`,
        );
      }
    }
    let m = await match(header);
    if (m.n === 0 && (await onDemand(t))) m = await match(header);
    if (m.n > 1) return { ok: false, why: 'ambiguous' };
    if (m.n === 1) return { ok: true, key: m.key!, ref: { kid: m.entry!.kid, thumbprint: m.entry!.thumbprint, generation } };
    // The key may exist at the IdP: while it cannot be reached, that is not the caller's fault.
    if (!lastAttemptOk) return unavailable(now(), `the token's key is not among the known keys and the issuer key set cannot be fetched (${lastError ?? 'unknown error'})`);
    return { ok: false, why: 'unknown' };
  };

  return {
    select,
    holds(ref) {
      if (stopped || stale(now())) return false;
      if (ref.generation === generation) return true;
      if (!thumbprints.has(ref.thumbprint)) return false;
      ref.generation = generation;
      return true;
    },
    async start() {
      const ok = await refresh();
      schedule();
      return ok;
    },
    refresh,
    async seed(jwks, fetchedAtMs) {
      if ((lastSuccessAt !== undefined && !seeded) || !Number.isFinite(fetchedAtMs)) return false;
      let next: readonly Entry[];
      try {
        next = await entriesOf(jwks);
      } catch {
        return false;
      }
      if (next.length === 0 || (lastSuccessAt !== undefined && !seeded)) return false;
      entries = next;
      thumbprints = new Set(next.map((e) => e.thumbprint));
      generation++;
      lastSuccessAt = Math.min(fetchedAtMs, now());
      seeded = true;
      log('issuer keys seeded from a cache', { jwksUri: o.jwksUri, kids: next.map((e) => e.kid ?? '(none)'), fetchedAt: new Date(lastSuccessAt).toISOString() });
      return true;
    },
    jwks: () => ({ keys: entries.map((e) => e.jwk) }),
    ready: () => !stale(now()),
    status() {
      const t = now();
      return {
        ready: !stale(t),
        jwksUri: o.jwksUri,
        kids: entries.map((e) => e.kid ?? '(none)'),
        generation,
        fetches: { ...counts },
        ...(lastSuccessAt !== undefined ? { lastSuccessAt: new Date(lastSuccessAt).toISOString() } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
        stale: stale(t),
        ...(seeded ? { seeded: true } : {}),
      };
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

async function thumbprintOf(jwk: JWK): Promise<string> {
  try {
    return await calculateJwkThumbprint(jwk, 'sha256');
  } catch {
    // A key type RFC 7638 does not cover: a digest of its JSON still tells keys apart.
    return createHash('sha256').update(JSON.stringify(jwk)).digest('base64url');
  }
}

/** The body's bytes, refusing more than `max` without reading them all. */
async function readCapped(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) {
    await res.body?.cancel();
    throw new Error(`JWKS larger than ${max} bytes`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) throw new Error(`JWKS larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
