/**
 * A real OpenID provider for the integration tests: the npm `oidc-provider` package (certified),
 * on 127.0.0.1, issuing JWT access tokens by client credentials (RFC 6749 §4.4, RFC 9068 profile)
 * with the tenant/regions claims the gateway maps to a Principal.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

export type TestClient = { client_id: string; client_secret: string; scope: string; claims: Record<string, unknown> };

export type TestIdp = {
  issuer: string;
  audience: string;
  /** Obtain an access token for a client through the real token endpoint. */
  token(clientId: string): Promise<string>;
  close(): Promise<void>;
};

export async function startIdp(clients: TestClient[], audience = 'crm-gateway'): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'idp-es256-1', alg: 'ES256', use: 'sig' };
  const byId = new Map(clients.map((c) => [c.client_id, c]));
  const provider = new Provider(issuer, {
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
    jwks: { keys: [jwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => `urn:${audience}`,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'crm.read crm.write',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => byId.get(token.clientId ?? '')?.claims,
  } as ConstructorParameters<typeof Provider>[1]);
  server.on('request', provider.callback());
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
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
