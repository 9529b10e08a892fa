/**
 * Device posture from a signed assertion (a JWS from the configured device-trust issuer), never
 * from plain headers. The assertion must name the token's subject and be fresh; when it carries
 * `cnf.jkt` it is bound to a DPoP key and holds only for a request whose token is bound to that
 * same key (`dpopJkt`: the proof key's RFC 7638 thumbprint, already checked against the token).
 * Anything else gives posture 'unknown' and the policy decides; the reason is kept for the
 * decision log.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { DeviceTrustConfig } from '../config/load.ts';
import type { Posture } from '../types.ts';

/** `expiresAtMs` is set on verified assertions only (the only results worth caching). */
export type PostureResult = { readonly posture: Posture; readonly note: string; readonly expiresAtMs?: number };

export type PostureVerifier = (assertion: string | undefined, subject: string, dpopJkt?: string) => Promise<PostureResult>;

export function createPostureVerifier(cfg: DeviceTrustConfig | undefined): PostureVerifier {
  if (!cfg) return async () => ({ posture: 'unknown', note: 'no device-trust issuer configured' });
  const keys = createLocalJWKSet(cfg.jwks as unknown as JSONWebKeySet);
  return async (assertion, subject, dpopJkt) => {
    if (assertion === undefined || assertion === '') return { posture: 'unknown', note: 'no posture assertion' };
    if (assertion.length > 8192) return { posture: 'unknown', note: 'posture assertion too long' };
    try {
      const { payload } = await jwtVerify(assertion, keys, {
        issuer: cfg.issuer,
        subject,
        algorithms: [...cfg.algorithms],
        typ: 'posture+jwt',
        maxTokenAge: cfg.maxAgeSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      const { managed, compliant, platform, cnf } = payload as Record<string, unknown>;
      if (cnf !== undefined) {
        const jkt = cnf !== null && typeof cnf === 'object' ? (cnf as Record<string, unknown>).jkt : undefined;
        if (typeof jkt !== 'string') return { posture: 'unknown', note: 'posture assertion cnf has no jkt (only DPoP key binding is supported)' };
        if (dpopJkt === undefined) return { posture: 'unknown', note: 'posture assertion is bound to a DPoP key (cnf.jkt) but the request has no DPoP-bound token' };
        if (jkt !== dpopJkt) return { posture: 'unknown', note: 'posture assertion cnf.jkt does not match the DPoP key' };
      }
      if (typeof managed !== 'boolean' || typeof compliant !== 'boolean' || typeof platform !== 'string') {
        return { posture: 'unknown', note: 'posture assertion lacks managed/compliant/platform' };
      }
      return { posture: { managed, compliant, platform }, note: 'verified', expiresAtMs: Math.min(Number(payload.exp), Number(payload.iat) + cfg.maxAgeSeconds) * 1000 };
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      const claim = (err as { claim?: string }).claim;
      return { posture: 'unknown', note: `posture assertion refused: ${code}${claim ? ` (${claim})` : ''}` };
    }
  };
}
