/**
 * Device posture from a signed assertion (a JWS from the configured device-trust issuer), never
 * from plain headers. The assertion must name the token's subject and be fresh; when it carries
 * `cnf.jkt` it is bound to a DPoP key and holds only for a request whose token is bound to that
 * same key (`dpopJkt`: the proof key's RFC 7638 thumbprint, already checked against the token).
 * Anything else gives posture 'unknown' and the policy decides; the reason is kept for the
 * decision log.
 *
 * The device-trust keys are either inline (`deviceTrust.jwks`) or fetched from
 * `deviceTrust.jwksUri` by the same key-set manager the token issuers use (key-set.ts: periodic
 * refresh, one refetch per cooldown for unknown kids, maximum staleness). A verified result
 * remembers the key that verified it (`key`), so a cache can stop honouring it once that key is
 * no longer published (`holds`).
 *
 * The verified result is what may be cached: `managed`, `compliant`, `platform`, `risk` and the
 * assertion's `iat`. The policy's `age_s` changes every second, so it is computed per request by
 * `postureAt`, never stored.
 */
import { createLocalJWKSet, jwtVerify, errors, type JSONWebKeySet, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import type { DeviceTrustConfig } from '../config/load.ts';
import type { DevicePosture, Posture, PostureRisk } from '../types.ts';
import { createKeySet, type KeyRef, type KeySet, type KeySetFetch, type KeySetStatus } from './key-set.ts';

/** `expiresAtMs`, `issuedAtMs` are set on verified assertions only (the only results worth caching). */
export type PostureResult = {
  readonly posture: DevicePosture | 'unknown';
  readonly note: string;
  readonly expiresAtMs?: number;
  readonly issuedAtMs?: number;
  /** The key that verified the assertion, when the keys come from `jwksUri`. */
  readonly key?: KeyRef;
};

export type PostureVerifier = ((assertion: string | undefined, subject: string, dpopJkt?: string) => Promise<PostureResult>) & {
  /** False once the key that verified `r` is no longer published (or the keys went stale). Always true for inline keys. */
  holds(r: PostureResult): boolean;
  /** The fetched key set's status (jwksUri only). */
  status(): KeySetStatus | undefined;
  stop(): void;
};

export type PostureVerifierOptions = {
  /** One JWKS fetch's deadline and the periodic refetch interval (the issuers' `timeouts`). */
  readonly timeouts?: { readonly discoveryMs: number; readonly keysRefreshMs: number };
  readonly fetch?: KeySetFetch;
  readonly now?: () => number;
  readonly log?: (msg: string, extra?: object) => void;
};

const RISKS: ReadonlySet<string> = new Set(['low', 'medium', 'high']);

/** The policy's view of a result at `nowMs`: adds `age_s` (whole seconds since `iat`, never negative). */
export function postureAt(r: PostureResult, nowMs: number): Posture {
  if (r.posture === 'unknown' || r.issuedAtMs === undefined) return 'unknown';
  return { ...r.posture, age_s: Math.max(0, Math.floor((nowMs - r.issuedAtMs) / 1000)) };
}

export function createPostureVerifier(cfg: DeviceTrustConfig | undefined, o: PostureVerifierOptions = {}): PostureVerifier {
  if (!cfg) {
    return Object.assign(async () => ({ posture: 'unknown', note: 'no device-trust issuer configured' }) as PostureResult, {
      holds: () => true,
      status: () => undefined,
      stop: () => {},
    });
  }
  let keySet: KeySet | undefined;
  let inline: JWTVerifyGetKey | undefined;
  if (cfg.jwksUri !== undefined) {
    const t = o.timeouts ?? { discoveryMs: 5000, keysRefreshMs: 600_000 };
    keySet = createKeySet({
      jwksUri: cfg.jwksUri,
      timeoutMs: t.discoveryMs,
      refreshMs: t.keysRefreshMs,
      cooldownMs: cfg.jwksCooldownMs ?? 30_000,
      maxStalenessMs: cfg.maxKeyStalenessMs ?? 86_400_000,
      ...(o.fetch ? { fetch: o.fetch } : {}),
      ...(o.now ? { now: o.now } : {}),
      log: (msg, extra) => o.log?.(msg, { deviceTrust: cfg.issuer, ...extra }),
    });
    void keySet.start();
  } else {
    inline = createLocalJWKSet(cfg.jwks as unknown as JSONWebKeySet);
  }

  /** The key for this assertion's header from the fetched key set; records the ref in `used`. */
  const fromKeySet = (ks: KeySet, used: { ref?: KeyRef }) => async (header: { alg?: string; kid?: string }): Promise<CryptoKey> => {
    const sel = await ks.select({ alg: header.alg ?? '', kid: header.kid });
    if (sel.ok) {
      used.ref = sel.ref;
      return sel.key;
    }
    if (sel.why === 'unavailable') throw Object.assign(new Error(sel.detail), { code: 'ERR_POSTURE_KEYS_UNAVAILABLE' });
    if (sel.why === 'ambiguous') throw new errors.JWKSMultipleMatchingKeys();
    throw new errors.JWKSNoMatchingKey();
  };

  const verify = async (assertion: string | undefined, subject: string, dpopJkt?: string): Promise<PostureResult> => {
    if (assertion === undefined || assertion === '') return { posture: 'unknown', note: 'no posture assertion' };
    if (assertion.length > 8192) return { posture: 'unknown', note: 'posture assertion too long' };
    const used: { ref?: KeyRef } = {};
    try {
      const { payload } = await jwtVerify(assertion, keySet ? fromKeySet(keySet, used) : inline!, {
        issuer: cfg.issuer,
        subject,
        algorithms: [...cfg.algorithms],
        typ: 'posture+jwt',
        maxTokenAge: cfg.maxAgeSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      const { managed, compliant, platform, cnf, risk } = payload as Record<string, unknown>;
      if (cnf !== undefined) {
        const jkt = cnf !== null && typeof cnf === 'object' ? (cnf as Record<string, unknown>).jkt : undefined;
        if (typeof jkt !== 'string') return { posture: 'unknown', note: 'posture assertion cnf has no jkt (only DPoP key binding is supported)' };
        if (dpopJkt === undefined) return { posture: 'unknown', note: 'posture assertion is bound to a DPoP key (cnf.jkt) but the request has no DPoP-bound token' };
        if (jkt !== dpopJkt) return { posture: 'unknown', note: 'posture assertion cnf.jkt does not match the DPoP key' };
      }
      if (typeof managed !== 'boolean' || typeof compliant !== 'boolean' || typeof platform !== 'string') {
        return { posture: 'unknown', note: 'posture assertion lacks managed/compliant/platform' };
      }
      // risk: only the three known levels; anything else (absent, another word, a number) is left out.
      const posture: DevicePosture = typeof risk === 'string' && RISKS.has(risk) ? { managed, compliant, platform, risk: risk as PostureRisk } : { managed, compliant, platform };
      return {
        posture,
        note: 'verified',
        expiresAtMs: Math.min(Number(payload.exp), Number(payload.iat) + cfg.maxAgeSeconds) * 1000,
        issuedAtMs: Number(payload.iat) * 1000,
        ...(used.ref ? { key: used.ref } : {}),
      };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      if (code === 'ERR_POSTURE_KEYS_UNAVAILABLE') return { posture: 'unknown', note: `posture keys unavailable: ${(err as Error).message}` };
      const claim = (err as { claim?: string }).claim;
      return { posture: 'unknown', note: `posture assertion refused: ${code}${claim ? ` (${claim})` : ''}` };
    }
  };

  return Object.assign(verify, {
    holds: (r: PostureResult) => (keySet === undefined || r.key === undefined ? true : keySet.holds(r.key)),
    status: () => keySet?.status(),
    stop: () => keySet?.stop(),
  });
}
