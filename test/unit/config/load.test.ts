import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadConfigFile, validateConfig } from '../../../gateway/config/load.ts';
import { configSchema } from '../../../gateway/config/schema.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BASE = '/etc/crm-gateway';

/** The smallest valid configuration: only the required keys. */
function minimal(): Record<string, any> {
  return {
    upstreams: [{ name: 'salesforce', url: 'https://acme.my.salesforce.com', prefix: '/sf', adapter: 'salesforce' }],
    issuers: [{ issuer: 'https://login.example.com/realms/crm', audience: 'crm-gateway' }],
    policy: { bundle: 'dist/bundle.tar.gz' },
    decisionLog: { dir: 'var/decisions' },
  };
}

/** The message of the ConfigError `validateConfig` throws for `raw`, or a marker when it does not throw one. */
function errorOf(raw: unknown, baseDir = BASE): string {
  try {
    validateConfig(raw, baseDir);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    return `not a ConfigError: ${String(err)}`;
  }
  return 'accepted';
}

function withPatch(patch: (c: Record<string, any>) => void): Record<string, any> {
  const c = minimal();
  patch(c);
  return c;
}

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('defaults are filled with their exact values', async (t) => {
  const cfg = validateConfig(minimal(), BASE);
  t.strictSame(cfg, {
    listen: { host: '127.0.0.1', port: 8080 },
    gateway: { region: 'EU', instanceId: hostname() },
    upstreams: [
      {
        name: 'salesforce',
        url: 'https://acme.my.salesforce.com',
        prefix: '/sf',
        adapter: 'salesforce',
        adapterOptions: {},
        forwardAuthorization: false,
        currentFields: ['Tenant__c', 'Region__c'],
      },
    ],
    issuers: [
      {
        issuer: 'https://login.example.com/realms/crm',
        audience: 'crm-gateway',
        algorithms: ['RS256', 'ES256'],
        clockToleranceSeconds: 30,
        allowInsecureHttp: false,
        jwksCooldownMs: 30_000,
        maxKeyStalenessMs: 86_400_000,
        requireAtJwt: false,
        opaque: false,
        claims: { tenant: 'tenant', regions: 'regions', roles: 'roles', clearance: 'clearance' },
      },
    ],
    policy: { bundle: '/etc/crm-gateway/dist/bundle.tar.gz', entrypoint: 'crm/authz/decision', memoryInitialPages: 64, memoryMaximumPages: 4096 },
    decisionLog: { dir: '/etc/crm-gateway/var/decisions', durability: 'fsync', batchIntervalMs: 10, erase: [], maxInputBytes: 65_536, segmentBytes: 67_108_864, segmentMaxAgeMs: 3_600_000 },
    limits: { requestBodyBytes: 1_048_576, responseBodyBytes: 16_777_216, jsonDepth: 64, tokenBytes: 8192, verifiedCacheEntries: 10_000 },
    timeouts: { connectMs: 2000, headersMs: 10_000, bodyMs: 30_000, discoveryMs: 5000, keysRefreshMs: 600_000, discoveryRefreshMs: 3_600_000, verifiedCacheMs: 60_000, introspectionCacheMs: 60_000, inactiveCacheMs: 10_000, shutdownMs: 10_000 },
    logging: { level: 'info' },
    proxy: { headerStrip: [], headerStripPrefixes: [], allowQueryToken: false, trustedProxies: [] },
  });
  t.equal('deviceTrust' in cfg, false, 'deviceTrust stays absent when not configured');
});

t.test('deviceTrust defaults', async (t) => {
  const cfg = validateConfig(
    withPatch((c) => {
      c.deviceTrust = { issuer: 'https://device-trust.example.com', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] } };
    }),
    BASE,
  );
  t.strictSame(cfg.deviceTrust, {
    issuer: 'https://device-trust.example.com',
    jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] },
    allowInsecureHttp: false,
    jwksCooldownMs: 30_000,
    maxKeyStalenessMs: 86_400_000,
    algorithms: ['ES256'],
    header: 'x-device-posture-assertion',
    maxAgeSeconds: 900,
  });
});

t.test('deviceTrust: exactly one of jwks and jwksUri; plain-http jwksUri only with allowInsecureHttp', async (t) => {
  const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] };
  const byUrl = validateConfig(withPatch((c) => (c.deviceTrust = { issuer: 'dt', jwksUri: 'https://dt.example.com/jwks' })), BASE);
  t.equal(byUrl.deviceTrust?.jwksUri, 'https://dt.example.com/jwks');
  t.equal(byUrl.deviceTrust?.jwks, undefined);
  t.equal(errorOf(withPatch((c) => (c.deviceTrust = { issuer: 'dt' }))), 'deviceTrust: give exactly one of jwks and jwksUri');
  t.equal(errorOf(withPatch((c) => (c.deviceTrust = { issuer: 'dt', jwks, jwksUri: 'https://dt.example.com/jwks' }))), 'deviceTrust: give exactly one of jwks and jwksUri');
  t.equal(
    errorOf(withPatch((c) => (c.deviceTrust = { issuer: 'dt', jwksUri: 'http://127.0.0.1:1/jwks' }))),
    'deviceTrust.jwksUri: plain http is refused unless deviceTrust.allowInsecureHttp is true (development only)',
  );
  t.equal(validateConfig(withPatch((c) => (c.deviceTrust = { issuer: 'dt', jwksUri: 'http://127.0.0.1:1/jwks', allowInsecureHttp: true })), BASE).deviceTrust?.allowInsecureHttp, true);
  t.match(errorOf(withPatch((c) => (c.deviceTrust = { issuer: 'dt', jwksUri: 'ftp://x/jwks' }))), /^deviceTrust\.jwksUri: must match pattern/);
});

t.test('given values win over defaults; the input object is not changed', async (t) => {
  const raw = withPatch((c) => {
    c.listen = { port: 9443 };
    c.gateway = { region: 'US', instanceId: 'gw-us-1' };
  });
  const before = JSON.stringify(raw);
  const cfg = validateConfig(raw, BASE);
  t.strictSame(cfg.listen, { host: '127.0.0.1', port: 9443 });
  t.strictSame(cfg.gateway, { region: 'US', instanceId: 'gw-us-1' });
  t.equal(JSON.stringify(raw), before, 'raw object untouched (validated on a clone)');
});

t.test('the config is frozen all the way down', async (t) => {
  const cfg = validateConfig(
    withPatch((c) => {
      c.upstreams[0].adapterOptions = { bodyFields: { '*': ['Tenant__c'] } };
    }),
    BASE,
  );
  const nested: [string, unknown][] = [
    ['(root)', cfg],
    ['listen', cfg.listen],
    ['upstreams', cfg.upstreams],
    ['upstreams[0]', cfg.upstreams[0]],
    ['upstreams[0].adapterOptions', cfg.upstreams[0]!.adapterOptions],
    ['upstreams[0].adapterOptions.bodyFields', cfg.upstreams[0]!.adapterOptions.bodyFields],
    ['upstreams[0].adapterOptions.bodyFields.*', (cfg.upstreams[0]!.adapterOptions.bodyFields as Record<string, unknown>)['*']],
    ['upstreams[0].currentFields', cfg.upstreams[0]!.currentFields],
    ['issuers[0].claims', cfg.issuers[0]!.claims],
    ['issuers[0].algorithms', cfg.issuers[0]!.algorithms],
    ['policy', cfg.policy],
    ['proxy.headerStrip', cfg.proxy.headerStrip],
  ];
  for (const [name, v] of nested) t.equal(Object.isFrozen(v), true, `${name} is frozen`);
  t.throws(() => {
    (cfg.listen as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => {
    (cfg.upstreams[0]!.currentFields as string[]).push('x');
  }, TypeError);
  t.equal(cfg.listen.port, 8080);
});

t.test('unknown keys at every depth name the full key', async (t) => {
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    ['root', (c) => (c.upstream = []), 'upstream: unknown key'],
    ['listen', (c) => (c.listen = { foo: 1 }), 'listen.foo: unknown key'],
    ['upstreams[0]', (c) => (c.upstreams[0].extra = true), 'upstreams[0].extra: unknown key'],
    ['upstreams[1]', (c) => c.upstreams.push({ name: 'hub', url: 'https://h.example', prefix: '/hub', adapter: 'generic-json', colour: 'red' }), 'upstreams[1].colour: unknown key'],
    ['issuers[0].claims', (c) => (c.issuers[0].claims = { tenant: 't', group: 'g' }), 'issuers[0].claims.group: unknown key'],
    ['decisionLog', (c) => (c.decisionLog.fsynk = true), 'decisionLog.fsynk: unknown key'],
    ['deviceTrust', (c) => (c.deviceTrust = { issuer: 'x', jwks: { keys: [{ kty: 'EC' }] }, maxAge: 1 }), 'deviceTrust.maxAge: unknown key'],
  ];
  for (const [name, patch, want] of cases) t.equal(errorOf(withPatch(patch)), want, name);
});

t.test('adapterOptions go to the adapter; the JWK Set is open (other software’s data)', async (t) => {
  const cfg = validateConfig(
    withPatch((c) => {
      c.upstreams[0].adapterOptions = { objects: ['Contact', 'Lead'] };
      c.deviceTrust = { issuer: 'x', jwks: { keys: [{ kty: 'EC', kid: 'k', use: 'sig' }], extra: 1 } };
    }),
    BASE,
  );
  t.strictSame(cfg.upstreams[0]!.adapterOptions, { objects: ['Contact', 'Lead'] });
  t.throws(() => validateConfig(withPatch((c) => (c.upstreams[0].adapterOptions = { anything: 1 })), BASE), { message: 'upstreams[0].adapterOptions.anything: unknown option' });
  t.throws(() => validateConfig(withPatch((c) => (c.upstreams[0].adapter = 'hubspot')), BASE), { message: /^upstreams\[0\]\.adapter: unknown adapter "hubspot"/ });
});

t.test('required keys', async (t) => {
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    ['upstreams', (c) => delete c.upstreams, 'upstreams: is required'],
    ['issuers', (c) => delete c.issuers, 'issuers: is required'],
    ['policy', (c) => delete c.policy, 'policy: is required'],
    ['decisionLog', (c) => delete c.decisionLog, 'decisionLog: is required'],
    ['policy.bundle', (c) => (c.policy = {}), 'policy.bundle: is required'],
    ['decisionLog.dir', (c) => (c.decisionLog = { fsync: false }), 'decisionLog.dir: is required'],
    ['upstreams[0].url', (c) => delete c.upstreams[0].url, 'upstreams[0].url: is required'],
    ['upstreams[0].adapter', (c) => delete c.upstreams[0].adapter, 'upstreams[0].adapter: is required'],
    ['issuers[0].audience', (c) => delete c.issuers[0].audience, 'issuers[0].audience: is required'],
    ['deviceTrust.jwks', (c) => (c.deviceTrust = { issuer: 'x' }), 'deviceTrust: give exactly one of jwks and jwksUri'],
    ['deviceTrust.jwks.keys[0].kty', (c) => (c.deviceTrust = { issuer: 'x', jwks: { keys: [{ crv: 'P-256' }] } }), 'deviceTrust.jwks.keys[0].kty: is required'],
  ];
  for (const [name, patch, want] of cases) t.equal(errorOf(withPatch(patch)), want, name);
  t.equal(errorOf({}), 'upstreams: is required', 'an empty document');
});

t.test('wrong types and out-of-range values', async (t) => {
  const cases: [string, unknown, string][] = [
    ['root not an object', [], '(root): must be object'],
    ['root a string', 'gateway', '(root): must be object'],
    ['listen.port string', withPatch((c) => (c.listen = { port: '8080' })), 'listen.port: must be integer'],
    ['listen.port too big', withPatch((c) => (c.listen = { port: 70000 })), 'listen.port: must be <= 65535'],
    ['listen.port fraction', withPatch((c) => (c.listen = { port: 80.5 })), 'listen.port: must be integer'],
    ['upstreams empty', withPatch((c) => (c.upstreams = [])), 'upstreams: must NOT have fewer than 1 items'],
    ['upstreams object', withPatch((c) => (c.upstreams = { name: 'x' })), 'upstreams: must be array'],
    ['upstream name uppercase', withPatch((c) => (c.upstreams[0].name = 'SF')), 'upstreams[0].name: must match pattern "^[a-z][a-z0-9-]{0,62}$"'],
    ['upstream url not http', withPatch((c) => (c.upstreams[0].url = 'ftp://x')), 'upstreams[0].url: must match pattern "^https?://[^\\s/?#]+(/[^\\s?#]*)?$"'],
    ['upstream url with query', withPatch((c) => (c.upstreams[0].url = 'https://x/?a=1')), 'upstreams[0].url: must match pattern "^https?://[^\\s/?#]+(/[^\\s?#]*)?$"'],
    ['prefix trailing slash', withPatch((c) => (c.upstreams[0].prefix = '/sf/')), 'upstreams[0].prefix: must match pattern "^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$"'],
    ['forwardAuthorization string', withPatch((c) => (c.upstreams[0].forwardAuthorization = 'yes')), 'upstreams[0].forwardAuthorization: must be boolean'],
    ['currentFields duplicate', withPatch((c) => (c.upstreams[0].currentFields = ['A', 'A'])), 'upstreams[0].currentFields: must NOT have duplicate items (items ## 1 and 0 are identical)'],
    ['audience number', withPatch((c) => (c.issuers[0].audience = 42)), 'issuers[0].audience: must be string'],
    ['algorithms HS256', withPatch((c) => (c.issuers[0].algorithms = ['HS256'])), 'issuers[0].algorithms[0]: must be one of ["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA"]'],
    ['algorithms none', withPatch((c) => (c.issuers[0].algorithms = ['none'])), 'issuers[0].algorithms[0]: must be one of ["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA"]'],
    ['clockTolerance too big', withPatch((c) => (c.issuers[0].clockToleranceSeconds = 301)), 'issuers[0].clockToleranceSeconds: must be <= 300'],
    ['logging.level', withPatch((c) => (c.logging = { level: 'verbose' })), 'logging.level: must be one of ["fatal","error","warn","info","debug","trace","silent"]'],
    ['decisionLog.fsync string', withPatch((c) => (c.decisionLog.fsync = 'true')), 'decisionLog.fsync: must be boolean'],
    ['decisionLog.durability unknown', withPatch((c) => (c.decisionLog.durability = 'sometimes')), 'decisionLog.durability: must be one of ["fsync","batch","none"]'],
    ['decisionLog.ship.url not http', withPatch((c) => (c.decisionLog.ship = { url: 'file:///tmp/x' })), 'decisionLog.ship.url: must match pattern "^https?://[^\\s/?#]+(/[^\\s?#]*)?$"'],
    ['decisionLog.ship.bufferMaxRecords zero', withPatch((c) => (c.decisionLog.ship = { url: 'http://127.0.0.1:1', bufferMaxRecords: 0 })), 'decisionLog.ship.bufferMaxRecords: must be >= 1'],
    ['decisionLog.erase not a pointer', withPatch((c) => (c.decisionLog.erase = ['input.subject'])), 'decisionLog.erase[0]: must match pattern "^(/[^/]+)+$"'],
    ['limits.tokenBytes zero', withPatch((c) => (c.limits = { tokenBytes: 0 })), 'limits.tokenBytes: must be >= 1'],
    ['timeouts.keysRefreshMs below 1000', withPatch((c) => (c.timeouts = { keysRefreshMs: 999 })), 'timeouts.keysRefreshMs: must be >= 1000'],
    ['policy.entrypoint with dots', withPatch((c) => (c.policy.entrypoint = 'crm.authz.decision')), 'policy.entrypoint: must match pattern "^[a-z0-9_]+(/[a-z0-9_]+)*$"'],
    ['memoryInitialPages below 2', withPatch((c) => (c.policy.memoryInitialPages = 1)), 'policy.memoryInitialPages: must be >= 2'],
    ['deviceTrust.header uppercase', withPatch((c) => (c.deviceTrust = { issuer: 'x', jwks: { keys: [{ kty: 'EC' }] }, header: 'X-Posture' })), 'deviceTrust.header: must match pattern "^[a-z0-9-]+$"'],
    ['deviceTrust.jwks.keys empty', withPatch((c) => (c.deviceTrust = { issuer: 'x', jwks: { keys: [] } })), 'deviceTrust.jwks.keys: must NOT have fewer than 1 items'],
  ];
  for (const [name, raw, want] of cases) t.equal(errorOf(raw), want, name);
});

t.test('cross-field rules', async (t) => {
  const sf2 = { name: 'salesforce', url: 'https://b.example', prefix: '/sf2', adapter: 'salesforce' };
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    ['duplicate upstream name', (c) => c.upstreams.push(sf2), 'upstreams[1].name: duplicate upstream name "salesforce"'],
    ['duplicate prefix', (c) => c.upstreams.push({ ...sf2, name: 'sf-b', prefix: '/sf' }), 'upstreams[1].prefix: duplicate prefix "/sf"'],
    ['duplicate issuer', (c) => c.issuers.push({ issuer: 'https://login.example.com/realms/crm', audience: 'x' }), 'issuers[1].issuer: duplicate issuer "https://login.example.com/realms/crm"'],
    ['http issuer', (c) => (c.issuers[0].issuer = 'http://127.0.0.1:9000'), 'issuers[0].issuer: plain http is refused unless allowInsecureHttp is true (development only)'],
    ['http issuer, explicit false', (c) => (c.issuers[0] = { issuer: 'http://idp.local', audience: 'a', allowInsecureHttp: false }), 'issuers[0].issuer: plain http is refused unless allowInsecureHttp is true (development only)'],
    ['memory initial above maximum', (c) => (c.policy = { bundle: 'b', memoryInitialPages: 100, memoryMaximumPages: 50 }), 'policy.memoryInitialPages: must not exceed policy.memoryMaximumPages'],
    ['introspection without a secret', (c) => (c.issuers[0].introspection = { clientId: 'gw' }), 'issuers[0].introspection: give exactly one of clientSecret and clientSecretEnv'],
    ['introspection with both secrets', (c) => (c.issuers[0].introspection = { clientId: 'gw', clientSecret: 's', clientSecretEnv: 'GW_SECRET_X' }), 'issuers[0].introspection: give exactly one of clientSecret and clientSecretEnv'],
    ['introspection secret env var unset', (c) => (c.issuers[0].introspection = { clientId: 'gw', clientSecretEnv: 'GW_TEST_UNSET_SECRET_VAR' }), 'issuers[0].introspection.clientSecretEnv: environment variable GW_TEST_UNSET_SECRET_VAR is not set'],
    ['opaque without introspection', (c) => (c.issuers[0].opaque = true), 'issuers[0].opaque: needs issuers[0].introspection'],
    ['two introspecting issuers, none opaque', (c) => {
      c.issuers[0].introspection = { clientId: 'gw', clientSecret: 's' };
      c.issuers.push({ issuer: 'https://idp2.example', audience: 'a', introspection: { clientId: 'gw', clientSecret: 's' } });
    }, 'issuers[1].introspection: several issuers introspect; set opaque: true on the one that takes opaque tokens'],
    ['two opaque issuers', (c) => {
      c.issuers[0] = { ...c.issuers[0], introspection: { clientId: 'gw', clientSecret: 's' }, opaque: true };
      c.issuers.push({ issuer: 'https://idp2.example', audience: 'a', introspection: { clientId: 'gw', clientSecret: 's' }, opaque: true });
    }, 'issuers[1].opaque: only one issuer can take opaque tokens'],
    ['trusted proxy not an address', (c) => (c.proxy = { trustedProxies: ['10.0.0/8'] }), 'proxy.trustedProxies[0]: "10.0.0/8" is not an IP address or CIDR'],
    ['trusted proxy prefix too long', (c) => (c.proxy = { trustedProxies: ['10.0.0.0/33'] }), 'proxy.trustedProxies[0]: "10.0.0.0/33": prefix length out of range'],
    ['empty tenants list', (c) => (c.issuers[0].tenants = []), 'issuers[0].tenants: must NOT have fewer than 1 items'],
  ];
  for (const [name, patch, want] of cases) t.equal(errorOf(withPatch(patch)), want, name);
  process.env.GW_TEST_INTROSPECTION_SECRET = 'from-the-environment';
  const intro = validateConfig(withPatch((c) => (c.issuers[0].introspection = { clientId: 'gw', clientSecretEnv: 'GW_TEST_INTROSPECTION_SECRET' })), BASE);
  t.equal(intro.issuers[0]!.introspection?.clientSecret, 'from-the-environment', 'the secret is read from the named variable at load');
  delete process.env.GW_TEST_INTROSPECTION_SECRET;
  const ok = validateConfig(withPatch((c) => (c.issuers[0] = { issuer: 'http://127.0.0.1:9000', audience: 'a', allowInsecureHttp: true })), BASE);
  t.equal(ok.issuers[0]!.issuer, 'http://127.0.0.1:9000', 'http issuer with allowInsecureHttp: true is accepted');
  t.equal(validateConfig(withPatch((c) => (c.policy = { bundle: 'b', memoryInitialPages: 50, memoryMaximumPages: 50 })), BASE).policy.memoryInitialPages, 50, 'equal pages accepted');
});

t.test('every validation message starts with the key', async (t) => {
  const raws: unknown[] = [
    withPatch((c) => (c.listen = { foo: 1 })),
    withPatch((c) => delete c.issuers[0].audience),
    withPatch((c) => (c.limits = { jsonDepth: 'deep' })),
    withPatch((c) => (c.issuers[0].issuer = 'http://x')),
  ];
  for (const raw of raws) t.match(errorOf(raw), /^(\(root\)|[A-Za-z]+(\[\d+\])?(\.[A-Za-z*]+(\[\d+\])?)*): /);
});

t.test('relative paths resolve against the base folder; absolute ones stay', async (t) => {
  const rel = validateConfig(withPatch((c) => (c.policy.bundle = '../b/bundle.tar.gz')), '/srv/gw/conf');
  t.equal(rel.policy.bundle, '/srv/gw/b/bundle.tar.gz');
  t.equal(rel.decisionLog.dir, '/srv/gw/conf/var/decisions');
  const abs = validateConfig(withPatch((c) => ((c.policy.bundle = '/opt/bundle.tar.gz'), (c.decisionLog.dir = '/var/log/gw'))), '/srv/gw/conf');
  t.equal(abs.policy.bundle, '/opt/bundle.tar.gz');
  t.equal(abs.decisionLog.dir, '/var/log/gw');
  const key = validateConfig(withPatch((c) => (c.decisionLog.checkpointKey = 'keys/checkpoint.pem')), '/srv/gw/conf');
  t.equal(key.decisionLog.checkpointKey, '/srv/gw/conf/keys/checkpoint.pem');
});

t.test('the schema closes every object it defines (except the two documented open ones)', async (t) => {
  const open: string[] = [];
  const walk = (s: any, at: string) => {
    if (!s || typeof s !== 'object') return;
    if (s.type === 'object' && s.properties && s.additionalProperties !== false) open.push(at);
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, at === '' ? k : `${at}.${k}`);
    if (s.items) walk(s.items, `${at}[]`);
  };
  walk(configSchema, '');
  t.strictSame(open, ['deviceTrust.jwks', 'deviceTrust.jwks.keys[]']);
});

const VALID_YAML = `# comment
upstreams:
  - name: salesforce
    url: https://acme.my.salesforce.com
    prefix: /sf
    adapter: salesforce
issuers:
  - issuer: https://login.example.com/realms/crm
    audience: [crm-gateway, crm-api]
policy:
  bundle: dist/bundle.tar.gz
decisionLog:
  dir: ./logs
gateway:
  instanceId: gw-test-1
`;

t.test('loadConfigFile reads a real YAML file; paths resolve against its folder', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'conf'));
  const file = join(dir, 'conf', 'gateway.yaml');
  await writeFile(file, VALID_YAML);
  const cfg = loadConfigFile(file);
  t.equal(cfg.policy.bundle, join(dir, 'conf', 'dist', 'bundle.tar.gz'));
  t.equal(cfg.decisionLog.dir, join(dir, 'conf', 'logs'));
  t.strictSame(cfg.issuers[0]!.audience, ['crm-gateway', 'crm-api']);
  t.equal(cfg.gateway.instanceId, 'gw-test-1');
  t.equal(Object.isFrozen(cfg.issuers[0]!.audience), true);
});

t.test('loadConfigFile with a relative path resolves against the file, not the cwd', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'gw.yaml'), VALID_YAML);
  const cwd = process.cwd();
  process.chdir(tmpdir());
  t.teardown(() => process.chdir(cwd));
  const rel = join(dir, 'gw.yaml').slice(tmpdir().length + 1);
  const cfg = loadConfigFile(rel);
  t.equal(cfg.decisionLog.dir, join(dir, 'logs'));
});

t.test('the example configuration in the repository is valid', async (t) => {
  const cfg = loadConfigFile(join(ROOT, 'gateway.example.yaml'));
  t.equal(cfg.policy.bundle, join(ROOT, 'dist', 'bundle.tar.gz'));
  t.equal(cfg.gateway.instanceId, 'gw-eu-1');
  t.equal(cfg.deviceTrust?.maxAgeSeconds, 900);
});

t.test('loadConfigFile refuses duplicate keys, invalid YAML and a missing file', async (t) => {
  const dir = await tempDir(t);
  const dup = join(dir, 'dup.yaml');
  await writeFile(dup, VALID_YAML + 'decisionLog:\n  dir: /elsewhere\n');
  t.throws(() => loadConfigFile(dup), { name: 'ConfigError', message: /^decisionLog: given twice \(line \d+\); a key may appear once$/ });

  const nestedDup = join(dir, 'nested-dup.yaml');
  await writeFile(nestedDup, VALID_YAML.replace('    prefix: /sf\n', '    prefix: /sf\n    prefix: /other\n'));
  const nestedText = VALID_YAML.replace('    prefix: /sf\n', '    prefix: /sf\n    prefix: /other\n');
  const line = nestedText.split('\n').indexOf('    prefix: /other') + 1;
  t.throws(() => loadConfigFile(nestedDup), { name: 'ConfigError', message: `upstreams[0].prefix: given twice (line ${line}); a key may appear once` });

  // `1:` and `"1":` are two keys to YAML (a number and a string): not a duplicate. The real
  // duplicate further down is the one named.
  const typed = join(dir, 'typed.yaml');
  await writeFile(typed, VALID_YAML + 'limits:\n  1: a\n  "1": b\n' + 'logging:\n  level: info\n  level: warn\n');
  t.throws(() => loadConfigFile(typed), { name: 'ConfigError', message: /^logging\.level: given twice/ });

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'upstreams: [\n  - name: x\n');
  t.throws(() => loadConfigFile(bad), { name: 'ConfigError', message: /^\(yaml\): / });

  const tabs = join(dir, 'tabs.yaml');
  await writeFile(tabs, 'listen:\n\tport: 1\n');
  t.throws(() => loadConfigFile(tabs), { name: 'ConfigError', message: /^\(yaml\): / });

  const missing = join(dir, 'nope.yaml');
  t.throws(() => loadConfigFile(missing), { name: 'ConfigError', message: `(file): cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'` });

  const empty = join(dir, 'empty.yaml');
  await writeFile(empty, '');
  t.throws(() => loadConfigFile(empty), { name: 'ConfigError', message: 'upstreams: is required' });

  const unknown = join(dir, 'unknown.yaml');
  await writeFile(unknown, VALID_YAML + 'listen:\n  foo: 1\n');
  t.throws(() => loadConfigFile(unknown), { name: 'ConfigError', message: 'listen.foo: unknown key' });
});

t.test('main.ts exits 2 with "config error: <key>:" on stderr', async (t) => {
  const dir = await tempDir(t);
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, ['gateway/main.ts', ...args], { cwd: ROOT, timeout: 30_000, env: { ...process.env, GATEWAY_CONFIG: '' } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  const unknownKey = join(dir, 'unknown.yaml');
  await writeFile(unknownKey, VALID_YAML.replace('    adapter: salesforce\n', '    adapter: salesforce\n    extra: 1\n'));
  const a = await run(['--config', unknownKey]);
  t.equal(a.code, 2);
  t.equal(a.stderr, 'config error: upstreams[0].extra: unknown key\n');

  const httpIssuer = join(dir, 'http.yaml');
  await writeFile(httpIssuer, VALID_YAML.replace('https://login.example.com/realms/crm', 'http://login.example.com'));
  const b = await run(['--config', httpIssuer]);
  t.equal(b.code, 2);
  t.match(b.stderr, /^config error: issuers\[0\]\.issuer: plain http is refused/);

  const dup = join(dir, 'dup.yaml');
  await writeFile(dup, VALID_YAML + 'policy:\n  bundle: x\n');
  const c = await run(['--config', dup]);
  t.equal(c.code, 2);
  t.match(c.stderr, /^config error: policy: given twice \(line \d+\)/);

  const noBundle = join(dir, 'nobundle.yaml');
  await writeFile(noBundle, VALID_YAML);
  const d = await run(['--config', noBundle]);
  t.equal(d.code, 2);
  t.match(d.stderr, /^config error: policy\.bundle: cannot read .*dist\/bundle\.tar\.gz \(ENOENT\)/);

  const e = await run([]);
  t.equal(e.code, 2, 'no --config and no GATEWAY_CONFIG');
  t.equal(e.stderr, 'usage: node gateway/main.ts --config <file.yaml> | --demo\n');
});

t.test('decisionLog.durability: the deprecated fsync alias maps to fsync/none; both together are refused; ship defaults', async (t) => {
  t.equal(validateConfig(withPatch((c) => (c.decisionLog.fsync = true)), '/etc/crm-gateway').decisionLog.durability, 'fsync');
  const off = validateConfig(withPatch((c) => (c.decisionLog.fsync = false)), '/etc/crm-gateway');
  t.equal(off.decisionLog.durability, 'none');
  t.equal(off.decisionLog.fsync, false, 'the alias stays visible, so the start can warn about it');
  t.equal(validateConfig(withPatch((c) => (c.decisionLog.durability = 'batch')), '/etc/crm-gateway').decisionLog.durability, 'batch');
  t.equal(errorOf(withPatch((c) => ((c.decisionLog.fsync = true), (c.decisionLog.durability = 'batch')))), 'decisionLog.fsync: deprecated alias of decisionLog.durability; give durability only');
  const shipped = validateConfig(withPatch((c) => (c.decisionLog.ship = { url: 'https://logs.example.com/opa' })), '/etc/crm-gateway');
  t.strictSame(shipped.decisionLog.ship, { url: 'https://logs.example.com/opa', batchMaxRecords: 500, bufferMaxRecords: 10_000, flushIntervalMs: 1000, timeoutMs: 5000, maxBackoffMs: 60_000 });
});

t.test('upstreams[].tokenExchange: a configured issuer, exactly one secret (env resolved), not with forwardAuthorization', async (t) => {
  const base = (x: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    withPatch((c) => {
      c.upstreams[0].tokenExchange = x;
      Object.assign(c.upstreams[0], extra);
    });
  const issuer = (minimal() as { issuers: { issuer: string }[] }).issuers[0]!.issuer;
  const ok = validateConfig(base({ issuer, clientId: 'gw', clientSecret: 's3cret', audience: 'urn:sf', scope: 'crm.read' }), BASE);
  t.strictSame(ok.upstreams[0]!.tokenExchange, { issuer, clientId: 'gw', clientSecret: 's3cret', audience: 'urn:sf', scope: 'crm.read' });
  process.env.GW_TEST_EXCHANGE_SECRET = 'from-env';
  t.teardown(() => delete process.env.GW_TEST_EXCHANGE_SECRET);
  t.equal(validateConfig(base({ issuer, clientId: 'gw', clientSecretEnv: 'GW_TEST_EXCHANGE_SECRET', audience: 'urn:sf' }), BASE).upstreams[0]!.tokenExchange?.clientSecret, 'from-env');
  t.equal(errorOf(base({ issuer: 'https://other.example.com', clientId: 'gw', clientSecret: 's', audience: 'a' })), 'upstreams[0].tokenExchange.issuer: "https://other.example.com" is not one of the configured issuers');
  t.equal(errorOf(base({ issuer, clientId: 'gw', audience: 'a' })), 'upstreams[0].tokenExchange: give exactly one of clientSecret and clientSecretEnv');
  t.equal(errorOf(base({ issuer, clientId: 'gw', clientSecret: 's', clientSecretEnv: 'X', audience: 'a' })), 'upstreams[0].tokenExchange: give exactly one of clientSecret and clientSecretEnv');
  t.equal(errorOf(base({ issuer, clientId: 'gw', clientSecretEnv: 'GW_TEST_UNSET_VAR_X', audience: 'a' })), 'upstreams[0].tokenExchange.clientSecretEnv: environment variable GW_TEST_UNSET_VAR_X is not set');
  t.equal(errorOf(base({ issuer, clientId: 'gw', clientSecret: 's', audience: 'a' }, { forwardAuthorization: true })), "upstreams[0].forwardAuthorization: must be false with tokenExchange (the exchanged token is forwarded instead of the caller's)");
  t.equal(errorOf(base({ issuer, clientId: 'gw', clientSecret: 's' })), 'upstreams[0].tokenExchange.audience: is required');
});

t.test('issuers[].cacheFile resolves against the config folder; timeouts.discoveryRefreshMs defaults to 1 hour', async (t) => {
  const cfg = validateConfig(withPatch((c) => (c.issuers[0].cacheFile = 'var/idp-cache.json')), BASE);
  t.equal(cfg.issuers[0]!.cacheFile, join(BASE, 'var/idp-cache.json'));
  t.equal(cfg.timeouts.discoveryRefreshMs, 3_600_000);
});

t.test('listen.tls: paths resolve against the base folder, defaults, clientCa needed to ask for certificates', async (t) => {
  t.equal(validateConfig(minimal(), BASE).listen.tls, undefined, 'absent by default (plain HTTP)');
  const tls = validateConfig(withPatch((c) => (c.listen = { tls: { cert: 'tls/server.pem', key: '/keys/server.key', clientCa: 'tls/ca.pem', requestClientCert: true } })), '/srv/gw/conf').listen.tls;
  t.same(tls, { cert: '/srv/gw/conf/tls/server.pem', key: '/keys/server.key', clientCa: '/srv/gw/conf/tls/ca.pem', requestClientCert: true, requireClientCert: false });
  t.same(validateConfig(withPatch((c) => (c.listen = { tls: { cert: 'a.pem', key: 'a.key' } })), BASE).listen.tls, { cert: `${BASE}/a.pem`, key: `${BASE}/a.key`, requestClientCert: false, requireClientCert: false }, 'defaults: no client certificates');
  t.equal(errorOf(withPatch((c) => (c.listen = { tls: { cert: 'a.pem' } }))), 'listen.tls.key: is required');
  t.equal(errorOf(withPatch((c) => (c.listen = { tls: { cert: 'a.pem', key: 'a.key', requireClientCert: true } }))), 'listen.tls.clientCa: required with requireClientCert (client certificates are verified against it)');
  t.equal(errorOf(withPatch((c) => (c.listen = { tls: { cert: 'a.pem', key: 'a.key', requestClientCert: true } }))), 'listen.tls.clientCa: required with requestClientCert (client certificates are verified against it)');
  t.equal(errorOf(withPatch((c) => (c.listen = { tls: { cert: 'a.pem', key: 'a.key', ciphers: 'x' } }))), 'listen.tls.ciphers: unknown key');
});
