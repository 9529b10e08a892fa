/**
 * Sender-constrained access tokens: DPoP (RFC 9449) and mTLS-bound tokens (RFC 8705).
 *
 * A certificate-bound token (`cnf["x5t#S256"]`) is accepted only when the gateway terminates TLS
 * (`listen.tls`) and the connection carries a client certificate verified against
 * `listen.tls.clientCa` whose SHA-256 thumbprint (base64url of the DER, no padding) is the claim
 * (`auth.mtls_binding_mismatch` for another certificate or none). Without `listen.tls` there is
 * no certificate to compare with and such tokens are refused by name (`auth.mtls_unsupported`).
 *
 * Runs after the access token is verified (or found in the verified-token cache), on every
 * request: only the token's signature check is cached, never a proof. A request with
 * `Authorization: DPoP <token>` and one `DPoP` header is accepted when
 *
 *  - the proof is a compact JWS with `typ: dpop+jwt`, an asymmetric `alg` from the issuer's
 *    `dpop.algorithms`, a public `jwk` in its header (no private members) that verifies it
 *    (jose's EmbeddedJWK), no `crit`, no duplicate keys in header or payload;
 *  - `htm` is the request method; `htu`, without query and fragment, is the URL the client
 *    addressed (`requestUrl`: `proxy.publicOrigin` when set, else the scheme of the connection
 *    and the `Host` header) with the path as received;
 *  - `iat` is within `dpop.maxAgeSeconds` in the past (plus the issuer's clock tolerance) and no
 *    further in the future than that tolerance;
 *  - `jti` has not been seen for this issuer within that window (replay cache keyed by the
 *    SHA-256 of issuer and jti);
 *  - `ath` is base64url(SHA-256(access token));
 *  - the token's `cnf.jkt` is the RFC 7638 thumbprint of the proof key.
 *
 * No silent downgrade: a DPoP-bound token (`cnf.jkt`) presented as `Bearer` is refused
 * (`auth.dpop_required`), and so is any token of an issuer with `dpop.required`, bound or not;
 * a token without `cnf.jkt` presented with the DPoP scheme or alongside a proof is refused
 * (`auth.dpop_binding_mismatch`). Two `DPoP` headers are refused (RFC 9449 §4.3).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { isRefusal, refuse } from '../errors.ts';
import type { Refusal } from '../types.ts';
import type { Algorithm, IssuerConfig } from '../config/load.ts';
import { decodeSegment } from './verify.ts';

export const DEFAULT_DPOP_ALGORITHMS: readonly Algorithm[] = ['ES256', 'RS256', 'EdDSA'];
export const DEFAULT_DPOP_MAX_AGE_SECONDS = 60;
/** Proofs remembered for replay detection (per gateway replica). */
export const DPOP_REPLAY_ENTRIES = 100_000;
/** Longest proof accepted, in characters (a proof carrying a 4096-bit RSA key is about 1.5 KB). */
export const DPOP_PROOF_MAX_CHARS = 8192;

/** How the access token came: its Authorization scheme, the DPoP header values and the request they must match. */
export type Presentation = {
  readonly scheme: 'bearer' | 'dpop';
  /** Every `DPoP` header value as received (0, 1, or more: more is refused). */
  readonly proofs: readonly string[];
  readonly method: string;
  /** The URL as the client addressed the gateway, without query (see `requestUrl`); undefined when it cannot be known. */
  readonly url: string | undefined;
  /**
   * The TLS client certificate (RFC 8705): absent when the gateway does not terminate TLS; else
   * `x5tS256`, base64url(SHA-256(DER)) of the connection's certificate when it was verified
   * against `listen.tls.clientCa`, undefined when there is none (or it did not verify).
   */
  readonly mtls?: { readonly x5tS256: string | undefined };
};

/** A bearer token without any proof: what a caller that knows nothing of DPoP presents. */
export const PLAIN_BEARER: Presentation = Object.freeze({ scheme: 'bearer', proofs: Object.freeze([]) as readonly string[], method: '', url: undefined });

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const SEGMENT = /^[A-Za-z0-9_-]+$/;

const invalid = (why: string): Refusal => refuse('GW_ERR_AUTH_DPOP_PROOF_INVALID', why);

/** Every value of the `DPoP` header (any case) in Node's raw header list, in order. */
export function dpopHeaderValues(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === 'dpop') out.push((rawHeaders[i + 1] as string).trim());
  }
  return out;
}

/**
 * The URL the client addressed, without query and fragment, for comparing with a proof's `htu`.
 * With `publicOrigin` (config `proxy.publicOrigin`, e.g. `https://crm-gw.example.com`) the
 * origin is that, whatever the Host header says: behind a TLS-terminating proxy the gateway sees
 * plain HTTP, so without it a client addressing `https://…` would never match. Without it, the
 * scheme of the connection and the `Host` header. `rawTarget` is the request target as received
 * (origin form; canonicalization has already refused anything ambiguous).
 */
export function requestUrl(o: { publicOrigin: string | undefined; host: string | undefined; encrypted: boolean; rawTarget: string }): string | undefined {
  const path = o.rawTarget.split('?')[0]!.split('#')[0]!;
  if (!path.startsWith('/')) return undefined;
  let origin: string;
  if (o.publicOrigin !== undefined) origin = o.publicOrigin;
  else if (o.host !== undefined && o.host !== '' && !/[\s/?#@\\]/.test(o.host)) origin = `${o.encrypted ? 'https' : 'http'}://${o.host}`;
  else return undefined;
  return normalizedUrl(`${origin}${path}`);
}

/**
 * RFC 9449 §4.3 / RFC 3986 §6.2.2–6.2.3 normalization: lower-case scheme and host, default port
 * removed, upper-case percent-escapes, query and fragment dropped. Undefined when not an http(s) URL.
 */
export function normalizedUrl(u: string): string | undefined {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return `${url.origin}${url.pathname.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase())}`;
}

/** base64url(SHA-256(access token)), the proof's `ath`. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

function plainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export type DpopSettings = { readonly required: boolean; readonly algorithms: readonly Algorithm[]; readonly maxAgeSeconds: number };

export function dpopSettings(cfg: IssuerConfig): DpopSettings {
  return {
    required: cfg.dpop?.required ?? false,
    algorithms: cfg.dpop?.algorithms ?? DEFAULT_DPOP_ALGORITHMS,
    maxAgeSeconds: cfg.dpop?.maxAgeSeconds ?? DEFAULT_DPOP_MAX_AGE_SECONDS,
  };
}

export type ProofCheck = {
  readonly proof: string;
  readonly method: string;
  readonly url: string | undefined;
  readonly accessToken: string;
  readonly issuer: string;
  readonly settings: DpopSettings;
  readonly clockToleranceSeconds: number;
  readonly nowMs: number;
};

/** A verified proof: the RFC 7638 thumbprint of its key, and the replay-cache key of its jti. */
export type VerifiedProof = { readonly jkt: string; readonly replayKey: string; readonly expiresAtMs: number };

/** Every check of one proof except replay. Pure apart from the clock passed in. Exported for unit tests. */
export async function verifyProof(c: ProofCheck): Promise<VerifiedProof | Refusal> {
  const proof = c.proof;
  if (proof === '') return invalid('empty DPoP header');
  if (proof.length > DPOP_PROOF_MAX_CHARS) return invalid(`DPoP proof longer than ${DPOP_PROOF_MAX_CHARS} characters`);
  const parts = proof.split('.');
  if (parts.length !== 3 || !SEGMENT.test(parts[0]!) || !SEGMENT.test(parts[1]!) || !SEGMENT.test(parts[2]!)) return invalid('DPoP proof is not a compact JWS');
  const header = decodeSegment(parts[0]!, 'header');
  if (isRefusal(header)) return invalid(`DPoP proof ${header.detail ?? 'header is malformed'}`);
  const payload = decodeSegment(parts[1]!, 'payload');
  if (isRefusal(payload)) return invalid(`DPoP proof ${payload.detail ?? 'payload is malformed'}`);

  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') return invalid('DPoP proof typ must be dpop+jwt');
  const alg = header.alg;
  if (typeof alg !== 'string' || !c.settings.algorithms.includes(alg as Algorithm)) return invalid(`DPoP proof alg ${String(alg).slice(0, 16)} is not allowed`);
  if (header.crit !== undefined || header.b64 !== undefined) return invalid('DPoP proof header: crit and b64 are not accepted');
  const jwk = header.jwk;
  if (!plainObject(jwk)) return invalid('DPoP proof header has no jwk');
  if (PRIVATE_MEMBERS.some((m) => jwk[m] !== undefined)) return invalid('DPoP proof jwk contains private key material');
  if (jwk.kty !== 'EC' && jwk.kty !== 'RSA' && jwk.kty !== 'OKP') return invalid('DPoP proof jwk must be an EC, RSA or OKP public key');

  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...c.settings.algorithms], currentDate: new Date(c.nowMs) }));
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    return invalid(code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'DPoP proof signature does not verify with its jwk' : `DPoP proof refused: ${code}`);
  }
  if (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > 256) return invalid('DPoP proof jti must be a string of 1-256 characters');
  if (claims.htm !== c.method) return invalid('DPoP proof htm is not the request method');
  if (typeof claims.htu !== 'string') return invalid('DPoP proof has no htu');
  if (c.url === undefined) return invalid('the request URL cannot be determined (no Host header): set proxy.publicOrigin');
  if (normalizedUrl(claims.htu) !== c.url) return invalid('DPoP proof htu is not the request URL');
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) return invalid('DPoP proof has no numeric iat');
  const nowS = c.nowMs / 1000;
  const tol = c.clockToleranceSeconds;
  if (claims.iat > nowS + tol) return invalid('DPoP proof iat is in the future');
  if (claims.iat < nowS - c.settings.maxAgeSeconds - tol) return invalid('DPoP proof is too old (iat)');
  if (typeof claims.ath !== 'string') return invalid('DPoP proof has no ath');
  if (claims.ath !== accessTokenHash(c.accessToken)) return invalid('DPoP proof ath is not the hash of the access token');

  const jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256');
  const replayKey = createHash('sha256').update(c.issuer).update('\n').update(claims.jti).digest('base64url');
  // A jti must stay remembered until its proof could no longer pass the iat check.
  return { jkt, replayKey, expiresAtMs: (claims.iat + c.settings.maxAgeSeconds + tol) * 1000 };
}

export type SenderCheck = {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly issuer: IssuerConfig;
  readonly accessToken: string;
  readonly presentation: Presentation;
  readonly nowMs: number;
};

export type DpopChecker = {
  /** undefined: the token may be used as presented. */
  check(c: SenderCheck): Promise<Refusal | undefined>;
  replayEntries(): number;
};

export function createDpopChecker(o: { replayEntries?: number } = {}): DpopChecker {
  const seen = new LRUCache<string, number>({ max: o.replayEntries ?? DPOP_REPLAY_ENTRIES });

  return {
    async check({ claims, issuer, accessToken, presentation: p, nowMs }) {
      const settings = dpopSettings(issuer);
      const cnf = claims.cnf;
      if (cnf !== undefined && !plainObject(cnf)) return refuse('GW_ERR_AUTH_CLAIMS_INVALID', 'claim cnf must be an object');
      const x5t = cnf?.['x5t#S256'];
      if (x5t !== undefined) {
        const bad = certificateBindingRefusal(x5t, p.mtls);
        if (bad) return bad;
      }
      const jkt = cnf?.jkt;
      if (cnf !== undefined && jkt === undefined && x5t === undefined) return refuse('GW_ERR_AUTH_WRONG_TOKEN_TYPE', 'token is bound (cnf) by a confirmation method the gateway cannot check');
      if (jkt !== undefined && (typeof jkt !== 'string' || jkt === '')) return refuse('GW_ERR_AUTH_CLAIMS_INVALID', 'claim cnf.jkt must be a non-empty string');
      if (p.proofs.length > 1) return invalid('more than one DPoP header');

      if (jkt === undefined) {
        if (settings.required) return refuse('GW_ERR_AUTH_DPOP_REQUIRED', `tokens of ${issuer.issuer} must be DPoP-bound (cnf.jkt)`);
        if (p.scheme === 'dpop') return refuse('GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'the DPoP scheme was used with a token that is not DPoP-bound (no cnf.jkt)');
        if (p.proofs.length > 0) return refuse('GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'a DPoP proof came with a token that is not DPoP-bound (no cnf.jkt)');
        return undefined;
      }
      if (p.scheme !== 'dpop') return refuse('GW_ERR_AUTH_DPOP_REQUIRED', 'a DPoP-bound token (cnf.jkt) must be sent as "Authorization: DPoP" with a proof');
      if (p.proofs.length === 0) return refuse('GW_ERR_AUTH_DPOP_REQUIRED', 'no DPoP proof header');

      const v = await verifyProof({
        proof: p.proofs[0]!,
        method: p.method,
        url: p.url,
        accessToken,
        issuer: issuer.issuer,
        settings,
        clockToleranceSeconds: issuer.clockToleranceSeconds,
        nowMs,
      });
      if (isRefusal(v)) return v;
      if (v.jkt !== jkt) return refuse('GW_ERR_AUTH_DPOP_BINDING_MISMATCH', 'the DPoP proof key is not the key the token is bound to (cnf.jkt)');
      // Check and record in one synchronous step: two concurrent copies cannot both pass.
      const prev = seen.get(v.replayKey);
      if (prev !== undefined && prev > nowMs) return refuse('GW_ERR_AUTH_DPOP_REPLAYED');
      seen.set(v.replayKey, v.expiresAtMs);
      return undefined;
    },
    replayEntries: () => seen.size,
  };
}

/** RFC 8705 §3: the token's `cnf["x5t#S256"]` against the connection's verified client certificate. undefined: bound to it. */
export function certificateBindingRefusal(x5t: unknown, mtls: Presentation['mtls']): Refusal | undefined {
  if (mtls === undefined) return refuse('GW_ERR_AUTH_MTLS_UNSUPPORTED', 'certificate-bound token (cnf x5t#S256, RFC 8705): the gateway does not terminate TLS (listen.tls is not configured)');
  if (typeof x5t !== 'string' || !SEGMENT.test(x5t)) return refuse('GW_ERR_AUTH_CLAIMS_INVALID', 'claim cnf x5t#S256 must be a base64url string');
  if (mtls.x5tS256 === undefined) return refuse('GW_ERR_AUTH_MTLS_BINDING_MISMATCH', 'certificate-bound token (cnf x5t#S256) without a verified client certificate on the connection');
  const a = Buffer.from(x5t, 'ascii');
  const b = Buffer.from(mtls.x5tS256, 'ascii');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return refuse('GW_ERR_AUTH_MTLS_BINDING_MISMATCH', 'the client certificate is not the one the token is bound to (cnf x5t#S256)');
  return undefined;
}

/** base64url(SHA-256(DER)) of a certificate, RFC 8705 `x5t#S256`. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** The DPoP key thumbprint a principal's token is bound to (after a successful check, the proof's key). */
export function boundJkt(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims.cnf;
  return plainObject(cnf) && typeof cnf.jkt === 'string' ? cnf.jkt : undefined;
}
