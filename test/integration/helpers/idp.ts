/**
 * A real OpenID provider for the integration tests: the npm `oidc-provider` package (certified),
 * on 127.0.0.1, issuing JWT access tokens by client credentials (RFC 6749 §4.4, RFC 9068 profile)
 * with the tenant/regions claims the gateway maps to a Principal.
 *
 * oidc-provider's keys are fixed at construction, so `rotate` builds a new Provider on the same
 * server and issuer URL (clients are static, client-credentials JWTs need no stored state);
 * `setDown` answers 503 on every endpoint to simulate an outage.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** `opaque`: the client's access tokens are opaque (introspected) instead of JWTs. */
export type TestClient = { client_id: string; client_secret: string; scope: string; claims: Record<string, unknown>; opaque?: boolean };

export type TestIdp = {
  issuer: string;
  audience: string;
  /** Obtain an access token for a client through the real token endpoint. */
  token(clientId: string): Promise<string>;
  /** A new ES256 signing key (new kid) published first; previous keys stay published unless keepPrevious is false. Returns the new kid. */
  rotate(opts?: { keepPrevious?: boolean }): Promise<string>;
  /** While down, every endpoint answers 503. */
  setDown(down: boolean): void;
  /** Revoke a token (RFC 7009) as the client it was issued to. */
  revoke(clientId: string, token: string): Promise<void>;
  /** Requests per endpoint since start (discovery, jwks, RFC 7662 introspection). */
  stats(): { discovery: number; jwks: number; introspection: number };
  close(): Promise<void>;
};

export async function startIdp(clients: TestClient[], audience = 'crm-gateway'): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let serial = 0;
  const newKey = async (): Promise<JWK> => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    return { ...(await exportJWK(privateKey)), kid: `idp-es256-${++serial}`, alg: 'ES256', use: 'sig' };
  };
  let keys: JWK[] = [await newKey()];
  const byId = new Map(clients.map((c) => [c.client_id, c]));
  const build = (jwks: JWK[]) => new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: c.scope,
      id_token_signed_response_alg: 'ES256',
    })),
    scopes: ['crm.read', 'crm.write'],
    ttl: { ClientCredentials: 600 }, // 10 minutes
    jwks: { keys: jwks },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => `urn:${audience}`,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, _resource: string, client: { clientId: string }) => ({
          scope: 'crm.read crm.write',
          audience,
          ...(byId.get(client.clientId)?.opaque ? { accessTokenFormat: 'opaque' } : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
          accessTokenTTL: 600,
        }),
      },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => byId.get(token.clientId ?? '')?.claims,
  } as ConstructorParameters<typeof Provider>[1]);
  let handler = build(keys).callback();
  let down = false;
  const counts = { discovery: 0, jwks: 0, introspection: 0 };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/.well-known/openid-configuration') counts.discovery++;
    if (path === '/jwks') counts.jwks++;
    if (path === '/token/introspection') counts.introspection++;
    if (down) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}');
      return;
    }
    void handler(req, res);
  });
  return {
    issuer,
    audience,
    async token(clientId) {
      const c = byId.get(clientId);
      if (!c) throw new Error(`no test client ${clientId}`);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: c.scope }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token endpoint: ${res.status} ${body.error}: ${body.error_description}`);
      return body.access_token;
    },
    async revoke(clientId, token) {
      const c = byId.get(clientId);
      if (!c) throw new Error(`no test client ${clientId}`);
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (res.status !== 200) throw new Error(`revocation endpoint: ${res.status} ${await res.text()}`);
    },
    async rotate(o = {}) {
      const next = await newKey();
      keys = o.keepPrevious === false ? [next] : [next, ...keys];
      handler = build(keys).callback();
      return next.kid!;
    },
    setDown(d) {
      down = d;
    },
    stats: () => ({ ...counts }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
