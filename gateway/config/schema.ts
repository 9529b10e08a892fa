/**
 * The configuration schema: one JSON Schema, every object closed (`additionalProperties: false`)
 * so a misspelt key is an error rather than a silently ignored setting. Defaults live here, in
 * the schema, each with its unit, so `useDefaults` fills them once at load time.
 */

const durationMs = (def: number, min = 1) => ({ type: 'integer', minimum: min, maximum: 3_600_000, default: def });
const bytes = (def: number) => ({ type: 'integer', minimum: 1, maximum: 1_073_741_824, default: def });
const nameList = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true };
const httpUrl = { type: 'string', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' };
const asymmetricAlgs = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['upstreams', 'issuers', 'policy', 'decisionLog'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        /** TLS termination in the gateway (HTTPS, TLS 1.2 minimum); with client certificates for RFC 8705 certificate-bound tokens. */
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: {
            /** PEM file paths, resolved against the config file's folder. */
            cert: { type: 'string', minLength: 1 },
            key: { type: 'string', minLength: 1 },
            /** PEM file of the CA(s) client certificates are verified against. */
            clientCa: { type: 'string', minLength: 1 },
            /** Ask clients for a certificate (connections without one still succeed). */
            requestClientCert: { type: 'boolean', default: false },
            /** Refuse the TLS handshake without a certificate verified against clientCa. */
            requireClientCert: { type: 'boolean', default: false },
          },
        },
      },
    },
    gateway: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** The region this replica runs in; passed to the policy as env.gateway_region. */
        region: { type: 'string', minLength: 1, default: 'EU' },
        /** Stable instance id for the decision log; defaults to the host name at start. */
        instanceId: { type: 'string', minLength: 1 },
      },
    },
    upstreams: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url', 'prefix', 'adapter'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' },
          url: httpUrl,
          /** Route prefix on the gateway, removed before forwarding: '/sf' serves '/sf/…'. */
          prefix: { type: 'string', pattern: '^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$' },
          adapter: { type: 'string', minLength: 1 },
          adapterOptions: { type: 'object', default: {} },
          /** Forward the caller's Authorization header upstream (off: the upstream trusts the gateway's headers). */
          forwardAuthorization: { type: 'boolean', default: false },
          /** Fields of a record read before an update/delete and given to the policy as resource.current. */
          currentFields: { ...nameList, default: ['Tenant__c', 'Region__c'] },
          /** RFC 8693: exchange the caller's access token at `issuer` for one with this upstream's audience, and forward that instead. */
          tokenExchange: {
            type: 'object',
            additionalProperties: false,
            required: ['issuer', 'clientId', 'audience'],
            properties: {
              /** One of the configured `issuers[].issuer`: its discovered token endpoint is used. */
              issuer: httpUrl,
              clientId: { type: 'string', minLength: 1 },
              /** The secret itself; prefer clientSecretEnv. Exactly one of the two. */
              clientSecret: { type: 'string', minLength: 1 },
              clientSecretEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
              /** The `audience` asked for (the upstream's identifier at the issuer). */
              audience: { type: 'string', minLength: 1 },
              /** Space-separated scopes asked for (narrower than the caller's); absent: the issuer decides. */
              scope: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
    issuers: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['issuer', 'audience'],
        properties: {
          issuer: httpUrl,
          audience: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }] },
          algorithms: { type: 'array', items: { enum: asymmetricAlgs }, minItems: 1, uniqueItems: true, default: ['RS256', 'ES256'] },
          clockToleranceSeconds: { type: 'integer', minimum: 0, maximum: 300, default: 30 }, // 30 seconds
          /** Plain-HTTP discovery; only for loopback development issuers. */
          allowInsecureHttp: { type: 'boolean', default: false },
          /** Shortest time between two JWKS refetches caused by unknown `kid`s, whatever their number. */
          jwksCooldownMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 30_000 }, // 30 seconds
          /** How long known keys keep verifying after the last successful JWKS fetch (IdP outage). */
          maxKeyStalenessMs: { type: 'integer', minimum: 1000, maximum: 604_800_000, default: 86_400_000 }, // 24 hours
          /** File holding the last discovery document and JWKS (written after each successful key fetch); used at start when the IdP cannot be reached. */
          cacheFile: { type: 'string', minLength: 1 },
          /** RFC 9068 profile: the JWS header `typ` must be `at+jwt` (ID tokens and other JWTs are refused). */
          requireAtJwt: { type: 'boolean', default: false },
          /** Tenants this issuer may issue tokens for; a token naming another tenant is refused (absent: any). */
          tenants: { ...nameList, minItems: 1 },
          /** RFC 7662 introspection of opaque tokens, with client_secret_basic authentication at the issuer. */
          introspection: {
            type: 'object',
            additionalProperties: false,
            required: ['clientId'],
            properties: {
              clientId: { type: 'string', minLength: 1 },
              /** The secret itself; prefer clientSecretEnv so config files hold no secret. Exactly one of the two. */
              clientSecret: { type: 'string', minLength: 1 },
              /** Name of the environment variable holding the secret, read once at load. */
              clientSecretEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
            },
          },
          /** This issuer introspects bearer tokens that are not JWS-shaped (needed when several issuers have `introspection`). */
          opaque: { type: 'boolean', default: false },
          /** RFC 9449 DPoP proofs for this issuer's DPoP-bound tokens (cnf.jkt). */
          dpop: {
            type: 'object',
            additionalProperties: false,
            properties: {
              /** Every token of this issuer must be DPoP-bound and presented with a proof. */
              required: { type: 'boolean', default: false },
              algorithms: { type: 'array', items: { enum: asymmetricAlgs }, minItems: 1, uniqueItems: true, default: ['ES256', 'RS256', 'EdDSA'] },
              /** Oldest proof accepted (its iat), plus the issuer's clock tolerance; also how long a jti is remembered. */
              maxAgeSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 60 }, // 1 minute
            },
          },
          claims: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              tenant: { type: 'string', default: 'tenant' },
              regions: { type: 'string', default: 'regions' },
              roles: { type: 'string', default: 'roles' },
              clearance: { type: 'string', default: 'clearance' },
            },
          },
        },
      },
    },
    deviceTrust: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer'],
      properties: {
        issuer: { type: 'string', minLength: 1 },
        /** The device-trust issuer's JWK Set URL, fetched and rotated like token issuers' keys; exactly one of jwksUri and jwks. */
        jwksUri: httpUrl,
        /** Plain-HTTP jwksUri; only for loopback development issuers. */
        allowInsecureHttp: { type: 'boolean', default: false },
        /** Shortest time between two refetches of jwksUri caused by unknown `kid`s. */
        jwksCooldownMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 30_000 }, // 30 seconds
        /** How long known keys of jwksUri keep verifying after the last successful fetch. */
        maxKeyStalenessMs: { type: 'integer', minimum: 1000, maximum: 604_800_000, default: 86_400_000 }, // 24 hours
        jwks: {
          type: 'object',
          required: ['keys'],
          properties: { keys: { type: 'array', minItems: 1, items: { type: 'object', required: ['kty'], properties: { kty: { type: 'string' } } } } },
        },
        algorithms: { type: 'array', items: { enum: asymmetricAlgs }, minItems: 1, uniqueItems: true, default: ['ES256'] },
        header: { type: 'string', pattern: '^[a-z0-9-]+$', default: 'x-device-posture-assertion' },
        maxAgeSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 900 }, // 15 minutes
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['bundle'],
      properties: {
        /** Path of the bundle built by `npm run build` (opa build -t wasm). */
        bundle: { type: 'string', minLength: 1 },
        entrypoint: { type: 'string', pattern: '^[a-z0-9_]+(/[a-z0-9_]+)*$', default: 'crm/authz/decision' },
        /** Initial Wasm memory in 64 KiB pages; large inputs fail without enough headroom (opa-wasm #89). */
        memoryInitialPages: { type: 'integer', minimum: 2, maximum: 16384, default: 64 }, // 4 MiB
        memoryMaximumPages: { type: 'integer', minimum: 2, maximum: 65536, default: 4096 }, // 256 MiB
      },
    },
    decisionLog: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: {
        dir: { type: 'string', minLength: 1 },
        /** fsync: one write + fdatasync per batch; batch: fdatasync at most every batchIntervalMs; none: benchmarks only. Default fsync (filled at load). */
        durability: { enum: ['fsync', 'batch', 'none'] },
        /** Deprecated alias of durability: true = fsync, false = none (a warning at start). */
        fsync: { type: 'boolean' },
        /** durability batch: at most one fdatasync per this interval; callers wait for the sync that covers them. */
        batchIntervalMs: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
        /** Optional copy of every written record to a decision-log service (OPA protocol: POST <url>/logs, gzip JSON array). */
        ship: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: httpUrl,
            batchMaxRecords: { type: 'integer', minimum: 1, maximum: 100_000, default: 500 },
            bufferMaxRecords: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 10_000 },
            flushIntervalMs: durationMs(1_000),
            timeoutMs: durationMs(5_000),
            maxBackoffMs: durationMs(60_000),
          },
        },
        /** Input keys (JSON Pointers) erased before writing, in addition to the built-in ones. */
        erase: { type: 'array', items: { type: 'string', pattern: '^(/[^/]+)+$' }, default: [] },
        /** An input whose canonical JSON is longer is written as {truncated, bytes, sha256, request} (input_truncated). */
        maxInputBytes: { type: 'integer', minimum: 1024, maximum: 16_777_216, default: 65_536 }, // 64 KiB
        /** A segment is closed (and its checkpoint signed) before it would grow past this size. */
        segmentBytes: { type: 'integer', minimum: 4096, maximum: 1_073_741_824, default: 67_108_864 }, // 64 MiB
        /** A segment is closed once its first record is this old. */
        segmentMaxAgeMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, default: 3_600_000 }, // 1 hour
        /** PKCS#8 PEM Ed25519 private key signing segment checkpoints; absent: generated at first start. */
        checkpointKey: { type: 'string', minLength: 1 },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        requestBodyBytes: bytes(1_048_576), // 1 MiB
        responseBodyBytes: bytes(16_777_216), // 16 MiB
        jsonDepth: { type: 'integer', minimum: 2, maximum: 1000, default: 64 },
        tokenBytes: bytes(8192), // 8 KiB
        /** Verified tokens and posture assertions remembered (by SHA-256); 0 turns the cache off. */
        verifiedCacheEntries: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 10_000 },
      },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        connectMs: durationMs(2_000), // 2 seconds
        headersMs: durationMs(10_000), // 10 seconds
        bodyMs: durationMs(30_000), // 30 seconds
        discoveryMs: durationMs(5_000), // 5 seconds
        keysRefreshMs: durationMs(600_000, 1000), // 10 minutes
        discoveryRefreshMs: durationMs(3_600_000, 1000), // 1 hour: OIDC discovery is repeated this often (a changed jwks_uri is picked up)
        verifiedCacheMs: durationMs(60_000, 1000), // 1 minute: longest a cached verification is trusted
        introspectionCacheMs: durationMs(60_000, 1000), // 1 minute: longest an active introspection result is reused
        inactiveCacheMs: durationMs(10_000, 100), // 10 seconds: how long an inactive (or refused) introspection result is reused
        shutdownMs: durationMs(10_000), // 10 seconds
      },
    },
    logging: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
      },
    },
    proxy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        headerStrip: { ...nameList, default: [] },
        headerStripPrefixes: { ...nameList, default: [] },
        /** Accept `?access_token=` (RFC 6750 §2.3); the parameter is removed before the policy, the log and the upstream see the query. */
        allowQueryToken: { type: 'boolean', default: false },
        /** Peers (CIDR or address) whose X-Forwarded-For names the client; from anyone else it is ignored. */
        trustedProxies: { type: 'array', items: { type: 'string', pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$' }, uniqueItems: true, default: [] },
        /** The origin clients address the gateway by (`https://crm-gw.example.com`), e.g. behind a TLS-terminating proxy: DPoP `htu` is checked against it instead of the Host header. */
        publicOrigin: { type: 'string', pattern: '^https?://[^\\s/?#@]+$' },
      },
    },
  },
} as const;
