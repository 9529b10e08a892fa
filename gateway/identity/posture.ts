/**
 * Device posture from a signed assertion (a JWS from the configured device-trust issuer), never
 * from plain headers. The assertion must name the token's subject and be fresh. Anything else
 * gives posture 'unknown' and the policy decides; the reason is kept for the decision log.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { DeviceTrustConfig } from '../config/load.ts';
import type { Posture } from '../types.ts';

/** `expiresAtMs` is set on verified assertions only (the only results worth caching). */
export type PostureResult = { readonly posture: Posture; readonly note: string; readonly expiresAtMs?: number };

export type PostureVerifier = (assertion: string | undefined, subject: string) => Promise<PostureResult>;

export function createPostureVerifier(cfg: DeviceTrustConfig | undefined): PostureVerifier {
  if (!cfg) return async () => ({ posture: 'unknown', note: 'no device-trust issuer configured' });
  const keys = createLocalJWKSet(cfg.jwks as unknown as JSONWebKeySet);
  return async (assertion, subject) => {
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
      const { managed, compliant, platform } = payload as Record<string, unknown>;
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
