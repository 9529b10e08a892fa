/**
 * An embedded development token issuer for the demo: OIDC discovery metadata and a JWKS on
 * 127.0.0.1, plus in-process signing of RFC 9068 access tokens (`typ: at+jwt`) and device posture
 * assertions (`typ: posture+jwt`, signed by a separate device-trust key).
 *
 * Keys are generated with jose on first start and, when a key file is given, persisted there
 * (private JWKs, mode 0600) and reused on the next start, so that a separate process (the token
 * CLI) can sign tokens the running demo accepts. This is a development tool: it has no login, no
 * client authentication and signs whatever claims it is handed.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';

export const DEMO_AUDIENCE = 'crm-gateway';
export const DEVICE_TRUST_ISSUER = 'demo-device-trust';
export const ACCESS_TOKEN_TYP = 'at+jwt';
export const POSTURE_TYP = 'posture+jwt';
const ALG = 'ES256';
const ACCESS_TOKEN_LIFETIME = 3600; // seconds (1 hour)
const POSTURE_LIFETIME = 600; // seconds (10 minutes)
const KEY_FILE_VERSION = 1;

/** The two private signing keys (EC P-256 JWKs with `d`, `kid`, `alg`, `use`). */
export type DevKeys = { readonly accessToken: JWK; readonly deviceTrust: JWK };

export type SignOptions = {
  /** Lifetime: seconds (number, negative for an already expired token) or a span like '5m', '-1h'. */
  readonly expiresIn?: string | number;
  /** `nbf` relative to `iat`, same units as `expiresIn` (e.g. '10m' for a not-yet-valid token). */
  readonly notBefore?: string | number;
  /** Overrides the header `kid` (e.g. to present an unknown key id). */
  readonly kid?: string;
  /** `iat` in epoch seconds; default now. Lets tests pin the clock. */
  readonly issuedAt?: number;
};

export type PostureClaims = {
  readonly sub: string;
  readonly managed: boolean;
  readonly compliant: boolean;
  readonly platform: string;
  readonly [claim: string]: unknown;
};

export type DevSigner = {
  readonly issuer: string;
  readonly audience: typeof DEMO_AUDIENCE;
  /**
   * An ES256 access token: iss, aud, sub, iat, exp (default 1 h), jti, plus `claims`. Explicit
   * claims win over the defaults, so tests can forge a wrong `aud` or `iss` on purpose.
   */
  signAccessToken(claims: Readonly<Record<string, unknown>>, opts?: SignOptions): Promise<string>;
  /** A posture assertion from `demo-device-trust`: sub, iat, exp (10 min), managed, compliant, platform. */
  signPosture(claims: PostureClaims, opts?: SignOptions): Promise<string>;
};

/** `jwksUri`: the same keys served at `<issuer>/device-trust/jwks`, for `deviceTrust.jwksUri`. */
export type DeviceTrust = { readonly issuer: typeof DEVICE_TRUST_ISSUER; readonly jwks: { readonly keys: JWK[] }; readonly jwksUri: string };

export type DevIssuer = DevSigner & {
  /** http://127.0.0.1:PORT, no trailing slash; equal to the discovery document's `issuer`. */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly deviceTrust: DeviceTrust;
  /** How often each endpoint was fetched (for JWKS caching tests); `tokenExchange`: RFC 8693 requests answered with a token. */
  stats(): { readonly discovery: number; readonly jwks: number; readonly tokenExchange: number };
  /** While down, every endpoint answers 503 (to test an IdP outage). */
  setDown(down: boolean): void;
  /**
   * Key rotation (for tests): a new access-token key becomes the signing key and is published
   * first in /jwks; the previous keys stay published unless `keepPrevious` is false. In memory
   * only: the key file, and so the token CLI, keep the original key. Returns the new kid.
   */
  rotate(opts?: { readonly keepPrevious?: boolean }): Promise<string>;
  /** Stops publishing the access-token key `kid` (tokens it signed stop verifying at the gateway's next refetch). */
  retire(kid: string): void;
  /** The kids published in /jwks, in order. */
  publishedKids(): string[];
  close(): Promise<void>;
};

/** Starts the issuer on 127.0.0.1 on an ephemeral port. */
export async function startDevIssuer(opts: { readonly keyFile?: string; readonly tokenExchange?: TokenExchangeClient } = {}): Promise<DevIssuer> {
  const { keys } = await loadOrCreateKeys(opts.keyFile);
  const counts = { discovery: 0, jwks: 0, tokenExchange: 0 };
  // Access-token keys published in /jwks (private JWKs; only their public parts are served).
  let published: JWK[] = [keys.accessToken];
  let down = false;
  let issuer = '';

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (opts.tokenExchange && !down && req.method === 'POST' && path === '/token') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
        if (body.length > 65_536) req.destroy();
      });
      req.on('end', () => {
        void exchange(opts.tokenExchange!, req.headers.authorization, new URLSearchParams(body), issuer, published, signer).then(
          (r) => {
            if (r.status === 200) counts.tokenExchange++;
            json(res, r.status, r.body);
          },
          () => json(res, 500, { error: 'server_error' }),
        );
      });
      return;
    }
    req.resume();
    if (down) return json(res, 503, { error: 'temporarily_unavailable' });
    if (req.method !== 'GET' && req.method !== 'HEAD' && path !== '/token') return json(res, 405, { error: 'invalid_request' });
    switch (path) {
      case '/.well-known/openid-configuration':
      case '/.well-known/oauth-authorization-server':
        counts.discovery++;
        return json(res, 200, discoveryDocument(issuer), 'public, max-age=300');
      case '/jwks':
        counts.jwks++;
        return json(res, 200, { keys: published.map(publicJwk) }, 'public, max-age=300');
      case '/device-trust/jwks':
        return json(res, 200, { keys: [publicJwk(keys.deviceTrust)] }, 'public, max-age=300');
      case '/token':
        return json(res, 400, {
          error: 'unsupported_grant_type',
          error_description: 'the demo issuer has no token flow; sign tokens with `npm run token -- --persona NAME`',
        });
      case '/authorize':
        return json(res, 400, { error: 'invalid_request', error_description: 'the demo issuer has no login' });
      default:
        return json(res, 404, { error: 'not_found' });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let signer = await createDevSigner(keys, issuer);
  return {
    issuer,
    audience: DEMO_AUDIENCE,
    signAccessToken: (claims, o) => signer.signAccessToken(claims, o),
    signPosture: (claims, o) => signer.signPosture(claims, o),
    jwksUri: `${issuer}/jwks`,
    deviceTrust: { issuer: DEVICE_TRUST_ISSUER, jwks: { keys: [publicJwk(keys.deviceTrust)] }, jwksUri: `${issuer}/device-trust/jwks` },
    stats: () => ({ ...counts }),
    setDown: (d) => {
      down = d;
    },
    async rotate(o = {}) {
      const next = await generateKey('at');
      published = o.keepPrevious === false ? [next] : [next, ...published];
      signer = await createDevSigner({ accessToken: next, deviceTrust: keys.deviceTrust }, issuer);
      return next.kid!;
    },
    retire(kid) {
      published = published.filter((k) => k.kid !== kid);
    },
    publishedKids: () => published.map((k) => k.kid!),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The one client allowed RFC 8693 token exchange at the dev issuer (tests only). */
export type TokenExchangeClient = { readonly clientId: string; readonly clientSecret: string };

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const EXCHANGED_LIFETIME = 300; // seconds (5 minutes)

/**
 * RFC 8693 token exchange, the minimum the gateway's tests need: client_secret_basic for the one
 * exchange client, a subject access token this issuer signed (verified against its published
 * keys), `audience` required; the new token keeps `sub` and the identity claims, gets the audience
 * asked for, `scope` narrowed to the requested scopes the subject token had, `act` naming the
 * client, and lives at most 5 minutes (never longer than the subject token).
 */
async function exchange(
  client: TokenExchangeClient,
  authorization: string | undefined,
  p: URLSearchParams,
  issuer: string,
  published: readonly JWK[],
  signer: DevSigner,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization ?? '');
  const [id, secret] = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').map((x) => decodeURIComponent(x)) : [];
  if (id !== client.clientId || secret !== client.clientSecret) return { status: 401, body: { error: 'invalid_client' } };
  if (p.get('grant_type') !== TOKEN_EXCHANGE) return { status: 400, body: { error: 'unsupported_grant_type' } };
  if (p.get('subject_token_type') !== ACCESS_TOKEN_TYPE) return { status: 400, body: { error: 'invalid_request', error_description: 'subject_token_type must be access_token' } };
  const audience = p.get('audience');
  if (!audience) return { status: 400, body: { error: 'invalid_target', error_description: 'audience is required' } };
  let subject: JWTPayload;
  try {
    ({ payload: subject } = await jwtVerify(p.get('subject_token') ?? '', createLocalJWKSet({ keys: published.map(publicJwk) }), { issuer, typ: ACCESS_TOKEN_TYP, algorithms: [ALG] }));
  } catch {
    return { status: 400, body: { error: 'invalid_grant', error_description: 'subject_token is not a valid access token of this issuer' } };
  }
  const had = new Set(typeof subject.scope === 'string' ? subject.scope.split(' ') : []);
  const asked = p.get('scope');
  const scope = asked === null ? [...had] : asked.split(' ').filter((x) => had.has(x));
  const now = Math.floor(Date.now() / 1000);
  const lifetime = Math.max(1, Math.min(EXCHANGED_LIFETIME, Number(subject.exp) - now));
  const { iss: _iss, aud: _aud, iat: _iat, exp: _exp, nbf: _nbf, jti: _jti, scope: _scope, ...identity } = subject;
  const token = await signer.signAccessToken({ ...identity, aud: audience, scope: scope.join(' '), client_id: client.clientId, act: { sub: client.clientId } }, { expiresIn: lifetime });
  return { status: 200, body: { access_token: token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: lifetime, ...(scope.length > 0 ? { scope: scope.join(' ') } : {}) } };
}

/** OIDC discovery metadata (OpenID Connect Discovery 1.0 §3) for `issuer`. */
export function discoveryDocument(issuer: string): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/jwks`,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ALG],
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    scopes_supported: ['openid', 'crm.read', 'crm.write'],
  };
}

/**
 * A signer over `keys` for tokens from `issuer`. Needs no server: the token CLI uses it with the
 * running demo's issuer URL and key file.
 */
export async function createDevSigner(keys: DevKeys, issuer: string): Promise<DevSigner> {
  const atKey = await importJWK(keys.accessToken, ALG);
  const dtKey = await importJWK(keys.deviceTrust, ALG);
  const sign = async (
    key: Awaited<ReturnType<typeof importJWK>>,
    typ: string,
    kid: string,
    defaults: JWTPayload,
    lifetime: number,
    claims: Readonly<Record<string, unknown>>,
    opts: SignOptions,
  ): Promise<string> => {
    const iat = opts.issuedAt ?? Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { ...defaults, iat, exp: iat + lifetime, ...claims };
    if (opts.expiresIn !== undefined) payload.exp = iat + spanSeconds(opts.expiresIn);
    if (opts.notBefore !== undefined) payload.nbf = iat + spanSeconds(opts.notBefore);
    return new SignJWT(payload).setProtectedHeader({ alg: ALG, typ, kid: opts.kid ?? kid }).sign(key);
  };
  return {
    issuer,
    audience: DEMO_AUDIENCE,
    signAccessToken: (claims, opts = {}) =>
      sign(atKey, ACCESS_TOKEN_TYP, keys.accessToken.kid!, { iss: issuer, aud: DEMO_AUDIENCE, jti: randomUUID() }, ACCESS_TOKEN_LIFETIME, claims, opts),
    signPosture: (claims, opts = {}) =>
      sign(dtKey, POSTURE_TYP, keys.deviceTrust.kid!, { iss: DEVICE_TRUST_ISSUER }, POSTURE_LIFETIME, claims, opts),
  };
}

/** Seconds in a span: a number of seconds, or '<n><s|m|h|d>' with an optional leading '-'. */
export function spanSeconds(span: string | number): number {
  if (typeof span === 'number') {
    if (!Number.isFinite(span)) throw new RangeError(`span must be finite, got ${span}`);
    return Math.trunc(span);
  }
  const m = /^(-?[0-9]+)\s*(s|m|h|d)$/.exec(span.trim());
  if (!m) throw new RangeError(`span must look like '90s', '5m', '1h', '-1d'; got '${span}'`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** The public part of an EC private JWK (never `d`). */
export function publicJwk(jwk: JWK): JWK {
  const { kty, crv, x, y, kid, alg, use } = jwk;
  return { kty, crv, x, y, kid, alg, use };
}

/**
 * Reads the key file when it exists, otherwise generates both keys (and writes them to `keyFile`
 * when given, mode 0600, atomically). A file that exists but is not a valid key file is an error,
 * never silently replaced: tokens signed by the old keys would stop verifying without a word.
 */
export async function loadOrCreateKeys(keyFile?: string): Promise<{ keys: DevKeys; created: boolean }> {
  if (keyFile !== undefined) {
    const existing = await readKeyFile(keyFile).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (existing) return { keys: existing, created: false };
  }
  const keys: DevKeys = { accessToken: await generateKey('at'), deviceTrust: await generateKey('dt') };
  if (keyFile !== undefined) {
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    const tmp = `${keyFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ version: KEY_FILE_VERSION, ...keys }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await rename(tmp, keyFile);
  }
  return { keys, created: true };
}

/** Reads and validates a key file written by `loadOrCreateKeys`. */
export async function readKeyFile(keyFile: string): Promise<DevKeys> {
  const doc: unknown = JSON.parse(await readFile(keyFile, 'utf8'));
  const rec = doc as Record<string, unknown> | null;
  if (rec === null || typeof rec !== 'object' || rec.version !== KEY_FILE_VERSION) {
    throw new Error(`keyFile ${keyFile}: not a version ${KEY_FILE_VERSION} demo key file; delete it to generate new keys`);
  }
  const check = (name: string): JWK => {
    const k = rec[name] as JWK | undefined;
    if (!k || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.d !== 'string' || typeof k.kid !== 'string') {
      throw new Error(`keyFile ${keyFile}: ${name} is not a private P-256 JWK with a kid; delete the file to generate new keys`);
    }
    return k;
  };
  return { accessToken: check('accessToken'), deviceTrust: check('deviceTrust') };
}

async function generateKey(prefix: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  // the kid is the RFC 7638 thumbprint: stable for the key, distinct per key
  const kid = `${prefix}-${(await calculateJwkThumbprint(jwk)).slice(0, 16)}`;
  return { ...jwk, kid, alg: ALG, use: 'sig' };
}

function json(res: ServerResponse, status: number, body: unknown, cacheControl = 'no-store'): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': cacheControl,
    })
    .end(text);
}
