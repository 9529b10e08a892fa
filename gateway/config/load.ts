/**
 * Loads the one configuration file (YAML), validates it against the schema, fills defaults and
 * freezes it. Every error message starts with the key that is wrong, e.g.
 * `upstreams[0].url: must match pattern …`, so an operator can find it without reading code.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, resolve, dirname } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, parse as parseYaml, parseDocument, type Node as YamlNode } from 'yaml';
import { configSchema } from './schema.ts';
import type { ShipOptions } from '../../audit/ship.ts';
import { cidrProblem } from '../client-address.ts';
import { ADAPTERS, ADAPTER_NAMES, createAdapter } from '../../adapters/registry.ts';

export type Algorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

export type UpstreamConfig = {
  readonly name: string;
  readonly url: string;
  readonly prefix: string;
  readonly adapter: string;
  readonly adapterOptions: Readonly<Record<string, unknown>>;
  readonly forwardAuthorization: boolean;
  readonly currentFields: readonly string[];
  /** RFC 8693; `clientSecret` is resolved at load (from `clientSecretEnv` when given) and never logged. */
  readonly tokenExchange?: {
    readonly issuer: string;
    readonly clientId: string;
    readonly clientSecret: string;
    readonly clientSecretEnv?: string;
    readonly audience: string;
    readonly scope?: string;
  };
};

export type IssuerConfig = {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly algorithms: readonly Algorithm[];
  readonly clockToleranceSeconds: number;
  readonly allowInsecureHttp: boolean;
  readonly jwksCooldownMs: number;
  readonly maxKeyStalenessMs: number;
  readonly requireAtJwt: boolean;
  /** Absolute (resolved at load): the last discovery document and JWKS, used when the IdP is down at start. */
  readonly cacheFile?: string;
  readonly tenants?: readonly string[];
  /** `clientSecret` is resolved at load (from `clientSecretEnv` when given); it is never logged. */
  readonly introspection?: { readonly clientId: string; readonly clientSecret: string; readonly clientSecretEnv?: string };
  /** Default false (filled at load). */
  readonly opaque?: boolean;
  /** RFC 9449 DPoP; absent: defaults (not required, ES256/RS256/EdDSA, 60 s). */
  readonly dpop?: { readonly required: boolean; readonly algorithms: readonly Algorithm[]; readonly maxAgeSeconds: number };
  readonly claims: { readonly tenant: string; readonly regions: string; readonly roles: string; readonly clearance: string };
};

export type DeviceTrustConfig = {
  readonly issuer: string;
  /** Exactly one of `jwks` (inline) and `jwksUri` (fetched and rotated, see identity/key-set.ts). */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
  readonly jwksUri?: string;
  /** Defaults filled at load (false, 30 s, 24 h); only used with `jwksUri`. */
  readonly allowInsecureHttp?: boolean;
  readonly jwksCooldownMs?: number;
  readonly maxKeyStalenessMs?: number;
  readonly algorithms: readonly Algorithm[];
  readonly header: string;
  readonly maxAgeSeconds: number;
};

/** `listen.tls`: paths absolute (resolved at load). */
export type TlsConfig = {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
  readonly requestClientCert: boolean;
  readonly requireClientCert: boolean;
};

export type Config = {
  readonly listen: { readonly host: string; readonly port: number; readonly tls?: TlsConfig };
  readonly gateway: { readonly region: string; readonly instanceId: string };
  readonly upstreams: readonly UpstreamConfig[];
  readonly issuers: readonly IssuerConfig[];
  readonly deviceTrust?: DeviceTrustConfig;
  readonly policy: {
    readonly bundle: string;
    readonly entrypoint: string;
    readonly memoryInitialPages: number;
    readonly memoryMaximumPages: number;
  };
  readonly decisionLog: {
    readonly dir: string;
    readonly durability: 'fsync' | 'batch' | 'none';
    /** Deprecated alias of `durability`, kept as given so the start can warn about it. */
    readonly fsync?: boolean;
    readonly batchIntervalMs: number;
    readonly ship?: Omit<ShipOptions, 'onEvent'>;
    readonly erase: readonly string[];
    readonly maxInputBytes: number;
    readonly segmentBytes: number;
    readonly segmentMaxAgeMs: number;
    readonly checkpointKey?: string;
  };
  readonly limits: { readonly requestBodyBytes: number; readonly responseBodyBytes: number; readonly jsonDepth: number; readonly tokenBytes: number; readonly verifiedCacheEntries: number };
  readonly timeouts: {
    readonly connectMs: number;
    readonly headersMs: number;
    readonly bodyMs: number;
    readonly discoveryMs: number;
    readonly keysRefreshMs: number;
    readonly discoveryRefreshMs: number;
    readonly verifiedCacheMs: number;
    readonly introspectionCacheMs: number;
    readonly inactiveCacheMs: number;
    readonly shutdownMs: number;
  };
  readonly logging: { readonly level: string };
  readonly proxy: {
    readonly headerStrip: readonly string[];
    readonly headerStripPrefixes: readonly string[];
    readonly allowQueryToken: boolean;
    readonly trustedProxies: readonly string[];
    /** The origin clients address (e.g. behind a TLS-terminating proxy); DPoP `htu` is compared with it. */
    readonly publicOrigin?: string;
  };
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: true, allowUnionTypes: true });
const validate = ajv.compile(configSchema);

/** `/upstreams/0/url` → `upstreams[0].url` */
function keyOf(pointer: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

function messageOf(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const base = keyOf(e.instancePath);
    return `${base === '(root)' ? extra : `${base}.${extra}`}: unknown key`;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    const base = keyOf(e.instancePath);
    return `${base === '(root)' ? missing : `${base}.${missing}`}: is required`;
  }
  if (e.keyword === 'enum') {
    return `${keyOf(e.instancePath)}: must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  }
  return `${keyOf(e.instancePath)}: ${e.message ?? 'is invalid'}`;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/**
 * Validate a configuration object (from YAML or built in code, as the demo does), fill defaults,
 * resolve relative paths against `baseDir`, check cross-field rules, and freeze it.
 */
export function validateConfig(raw: unknown, baseDir: string): Config {
  const doc = structuredClone(raw) as Record<string, unknown>;
  if (!validate(doc)) {
    const first = validate.errors?.[0];
    throw new ConfigError(first ? messageOf(first) : '(root): is invalid');
  }
  const cfg = doc as unknown as {
    gateway: { instanceId?: string };
    upstreams: { name: string; prefix: string }[];
    issuers: { issuer: string; allowInsecureHttp: boolean; opaque: boolean; cacheFile?: string; introspection?: { clientId: string; clientSecret?: string; clientSecretEnv?: string } }[];
    proxy: { trustedProxies: string[] };
    policy: { bundle: string; memoryInitialPages: number; memoryMaximumPages: number };
    decisionLog: { dir: string; checkpointKey?: string; durability?: string; fsync?: boolean };
    deviceTrust?: { jwks?: unknown; jwksUri?: string; allowInsecureHttp: boolean };
    listen: { tls?: { cert: string; key: string; clientCa?: string; requestClientCert: boolean; requireClientCert: boolean } };
  };
  cfg.gateway.instanceId ??= hostname();
  const names = new Set<string>();
  const prefixes = new Set<string>();
  cfg.upstreams.forEach((u, i) => {
    if (names.has(u.name)) throw new ConfigError(`upstreams[${i}].name: duplicate upstream name "${u.name}"`);
    if (prefixes.has(u.prefix)) throw new ConfigError(`upstreams[${i}].prefix: duplicate prefix "${u.prefix}"`);
    names.add(u.name);
    prefixes.add(u.prefix);
  });
  cfg.upstreams.forEach((u, i) => {
    // Adapter options are validated by the adapter itself, at load time, so a typo exits 2 here
    // instead of surfacing as a stack trace when the server starts.
    const adapter = u as unknown as { adapter: string; adapterOptions: Record<string, unknown> };
    if (!Object.hasOwn(ADAPTERS, adapter.adapter)) {
      throw new ConfigError(`upstreams[${i}].adapter: unknown adapter "${adapter.adapter}" (known: ${ADAPTER_NAMES.join(', ')})`);
    }
    try {
      createAdapter(adapter.adapter, adapter.adapterOptions);
    } catch (err) {
      throw new ConfigError(`upstreams[${i}].adapterOptions.${(err as Error).message}`);
    }
  });
  const issuers = new Set<string>();
  cfg.issuers.forEach((is, i) => {
    if (issuers.has(is.issuer)) throw new ConfigError(`issuers[${i}].issuer: duplicate issuer "${is.issuer}"`);
    issuers.add(is.issuer);
    if (is.issuer.startsWith('http://') && !is.allowInsecureHttp) {
      throw new ConfigError(`issuers[${i}].issuer: plain http is refused unless allowInsecureHttp is true (development only)`);
    }
  });
  cfg.issuers.forEach((is, i) => {
    const intro = is.introspection;
    if (is.opaque && !intro) throw new ConfigError(`issuers[${i}].opaque: needs issuers[${i}].introspection`);
    if (!intro) return;
    if ((intro.clientSecret === undefined) === (intro.clientSecretEnv === undefined)) {
      throw new ConfigError(`issuers[${i}].introspection: give exactly one of clientSecret and clientSecretEnv`);
    }
    if (intro.clientSecretEnv !== undefined) {
      const secret = process.env[intro.clientSecretEnv];
      if (secret === undefined || secret === '') throw new ConfigError(`issuers[${i}].introspection.clientSecretEnv: environment variable ${intro.clientSecretEnv} is not set`);
      intro.clientSecret = secret;
    }
  });
  cfg.upstreams.forEach((u, i) => {
    const x = (u as unknown as { tokenExchange?: { issuer: string; clientSecret?: string; clientSecretEnv?: string }; forwardAuthorization: boolean }).tokenExchange;
    if (!x) return;
    if (!issuers.has(x.issuer)) throw new ConfigError(`upstreams[${i}].tokenExchange.issuer: "${x.issuer}" is not one of the configured issuers`);
    if ((u as unknown as { forwardAuthorization: boolean }).forwardAuthorization) {
      throw new ConfigError(`upstreams[${i}].forwardAuthorization: must be false with tokenExchange (the exchanged token is forwarded instead of the caller's)`);
    }
    if ((x.clientSecret === undefined) === (x.clientSecretEnv === undefined)) {
      throw new ConfigError(`upstreams[${i}].tokenExchange: give exactly one of clientSecret and clientSecretEnv`);
    }
    if (x.clientSecretEnv !== undefined) {
      const secret = process.env[x.clientSecretEnv];
      if (secret === undefined || secret === '') throw new ConfigError(`upstreams[${i}].tokenExchange.clientSecretEnv: environment variable ${x.clientSecretEnv} is not set`);
      x.clientSecret = secret;
    }
  });
  const introspecting = cfg.issuers.filter((is) => is.introspection);
  const opaque = cfg.issuers.filter((is) => is.opaque);
  if (opaque.length > 1) throw new ConfigError(`issuers[${cfg.issuers.indexOf(opaque[1]!)}].opaque: only one issuer can take opaque tokens`);
  if (introspecting.length > 1 && opaque.length === 0) {
    throw new ConfigError(`issuers[${cfg.issuers.indexOf(introspecting[1]!)}].introspection: several issuers introspect; set opaque: true on the one that takes opaque tokens`);
  }
  const dt = cfg.deviceTrust;
  if (dt) {
    if ((dt.jwks === undefined) === (dt.jwksUri === undefined)) throw new ConfigError('deviceTrust: give exactly one of jwks and jwksUri');
    if (dt.jwksUri?.startsWith('http://') && !dt.allowInsecureHttp) {
      throw new ConfigError('deviceTrust.jwksUri: plain http is refused unless deviceTrust.allowInsecureHttp is true (development only)');
    }
  }
  cfg.proxy.trustedProxies.forEach((cidr, i) => {
    const why = cidrProblem(cidr);
    if (why) throw new ConfigError(`proxy.trustedProxies[${i}]: ${why}`);
  });
  if (cfg.policy.memoryInitialPages > cfg.policy.memoryMaximumPages) {
    throw new ConfigError('policy.memoryInitialPages: must not exceed policy.memoryMaximumPages');
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  cfg.policy.bundle = abs(cfg.policy.bundle);
  cfg.decisionLog.dir = abs(cfg.decisionLog.dir);
  const tls = cfg.listen.tls;
  if (tls) {
    if ((tls.requestClientCert || tls.requireClientCert) && tls.clientCa === undefined) {
      throw new ConfigError(`listen.tls.clientCa: required with ${tls.requireClientCert ? 'requireClientCert' : 'requestClientCert'} (client certificates are verified against it)`);
    }
    tls.cert = abs(tls.cert);
    tls.key = abs(tls.key);
    if (tls.clientCa !== undefined) tls.clientCa = abs(tls.clientCa);
  }
  if (cfg.decisionLog.fsync !== undefined && cfg.decisionLog.durability !== undefined) {
    throw new ConfigError('decisionLog.fsync: deprecated alias of decisionLog.durability; give durability only');
  }
  cfg.decisionLog.durability ??= cfg.decisionLog.fsync === false ? 'none' : 'fsync';
  if (cfg.decisionLog.checkpointKey !== undefined) cfg.decisionLog.checkpointKey = abs(cfg.decisionLog.checkpointKey);
  const cacheFiles = new Set<string>();
  cfg.issuers.forEach((is, i) => {
    if (is.cacheFile === undefined) return;
    is.cacheFile = abs(is.cacheFile);
    if (cacheFiles.has(is.cacheFile)) throw new ConfigError(`issuers[${i}].cacheFile: another issuer uses the same file`);
    cacheFiles.add(is.cacheFile);
  });
  return deepFreeze(doc) as unknown as Config;
}

/** Read, parse and validate a YAML config file; relative paths resolve against its folder. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`(file): cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    // uniqueKeys: a key given twice is an error, not "last one wins".
    raw = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    const dup = (err as { code?: string }).code === 'DUPLICATE_KEY' ? duplicateKey(text) : undefined;
    if (dup) throw new ConfigError(`${dup.path}: given twice (line ${dup.line}); a key may appear once`);
    throw new ConfigError(`(yaml): ${(err as Error).message.split('\n')[0]}`);
  }
  return validateConfig(raw ?? {}, dirname(resolve(path)));
}

/**
 * The first key given twice in one mapping, as a config path (`upstreams[0].prefix`) with the
 * line of its second occurrence: the YAML parser names only a line and column. Undefined when the
 * document cannot be walked (the parser's own message is used then).
 */
function duplicateKey(text: string): { path: string; line: number } | undefined {
  const doc = parseDocument(text, { uniqueKeys: false, keepSourceTokens: false });
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  const walk = (node: YamlNode | null | undefined, path: string): { path: string; line: number } | undefined => {
    if (isMap(node)) {
      // Compared by value, as the parser does: `1:` and `"1":` are different keys.
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const value: unknown = pair.key.value;
        const key = String(value);
        const here = path === '' ? key : `${path}.${key}`;
        if (seen.has(value)) return { path: here, line: lineOf((pair.key as YamlNode).range?.[0] ?? 0) };
        seen.add(value);
        const found = walk(pair.value as YamlNode, here);
        if (found) return found;
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) {
        const found = walk(item as YamlNode, `${path}[${i}]`);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(doc.contents as YamlNode, '');
}
