/**
 * The request header policy: which client headers survive canonicalization. Pure.
 *
 * Three kinds of header never reach the policy or the upstream:
 *  - identity and posture assertions a client must never be able to set (the gateway's own
 *    `x-gateway-*` namespace, the headers other auth proxies and platforms use to say who the
 *    caller is, plain posture claims, client-certificate headers, path/method override headers);
 *  - hop-by-hop headers (RFC 9110 §7.6.1) and every header named as a `Connection` option;
 *  - by default, any header whose name contains `_` (see `dropUnderscoreNames`).
 *
 * Names compare case-insensitively and with `_` treated as `-`, because a proxy or a CGI-style
 * framework behind us may turn `X_Gateway_Subject` into `X-Gateway-Subject` (or both into
 * `HTTP_X_GATEWAY_SUBJECT`).
 */
import { isRefusal, refuse } from './errors.ts';
import type { ErrorCode } from './errors.ts';
import type { Refusal } from './types.ts';

export type HeaderPolicy = {
  /** Exact names removed from every request. */
  readonly strip: readonly string[];
  /** Name prefixes removed from every request, e.g. `x-gateway-`. */
  readonly stripPrefixes: readonly string[];
  /** Names kept even though `strip` or `stripPrefixes` match them (not exempt from hop-by-hop removal). */
  readonly keep?: readonly string[];
  /**
   * The header carrying the signed device-posture assertion (a JWS). Always kept, even though
   * the `x-device-` prefix matches it: the posture stage verifies it, the proxy removes it
   * before forwarding. Must be lower-case (the map's keys are).
   */
  readonly postureHeader: string;
  /**
   * Drop every header whose name contains `_` (default true), as nginx does by default
   * (`underscores_in_headers off`). A name like `Content_Type` or `Authorization_` is not
   * something any client library sends, and an upstream that maps `-` and `_` to the same CGI
   * variable would see it as a second, conflicting copy of the real header.
   */
  readonly dropUnderscoreNames?: boolean;
};

/** Why a client header was removed; for the decision log. */
export type RemovedWhy = 'policy' | 'hop-by-hop' | 'connection-option' | 'underscore';
export type RemovedHeader = { readonly name: string; readonly why: RemovedWhy };

export type CanonicalHeaders = {
  /** Lower-cased name → value; repeated headers joined with `, ` (`cookie` with `; `). */
  readonly headers: ReadonlyMap<string, string>;
  /** Client headers that were removed, lower-cased, sorted by name, one entry per name. */
  readonly removed: readonly RemovedHeader[];
};

/** The code of every header-level refusal (a bad name, a control character, a forbidden repeat). */
export const HEADER_REFUSAL_CODE: ErrorCode = 'GW_ERR_REQ_HEADER_INVALID';

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the non-standard ones proxies still honour. */
export const HOP_BY_HOP: readonly string[] = Object.freeze([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // h2c upgrade smuggling: a proxy that forwarded Upgrade: h2c + HTTP2-Settings would hand the
  // client a raw HTTP/2 connection to the upstream, past every later check.
  'http2-settings',
]);

/**
 * Headers the gateway itself needs. A `Connection` option naming one of them is refused rather
 * than ignored: RFC 9110 §7.6.1 forbids naming end-to-end fields there, so such a request is
 * either broken or probing for a proxy that honours the option (the classic way to make a
 * proxy delete `Content-Length`, desynchronising body framing, or a header an earlier hop
 * added). Ignoring the token would leave us disagreeing with any hop in front of us that did
 * honour it; refusing leaves no disagreement at all. The posture header is added per policy.
 */
export const PROTECTED: readonly string[] = Object.freeze([
  'authorization',
  'content-type',
  'content-length',
  'content-encoding',
  'host',
]);

/** Headers that must occur at most once: a second copy is ambiguous (which one did whom see?). */
const SINGLETONS: readonly string[] = ['authorization', 'host', 'content-length', 'content-type'];

/** The default policy. The config's `proxy.headerStrip*` lists are added to these, never replace them. */
export const DEFAULT_HEADER_POLICY: HeaderPolicy = Object.freeze({
  strip: Object.freeze([
    // auth-proxy identity headers (oauth2-proxy, Authelia, Vouch, Grafana-style auth proxies)
    'x-remote-user',
    'remote-user',
    'x-user',
    'x-email',
    'x-groups',
    'x-tenant',
    'x-roles',
    'x-role',
    'x-scopes',
    'x-scope',
    'x-permissions',
    'x-claims',
    'x-userinfo',
    'x-id-token',
    'x-access-token',
    'x-identity-status', // OpenStack keystonemiddleware
    'x-anonymous-consumer', // Kong
    'x-credential-identifier', // Kong
    // Dynamics 365 Web API impersonation: the upstream would act as another CRM user
    'mscrmcallerid',
    'callerobjectid',
    // client address / scheme / host claims: the shell sets the trusted values itself
    'forwarded',
    'x-real-ip',
    'x-client-ip',
    'true-client-ip',
    'cf-connecting-ip',
    'fastly-client-ip',
    'x-cluster-client-ip',
    // path and method overrides: the upstream would serve another path or method than the
    // policy decided on (IIS/Symfony X-Original-URL, X-Rewrite-URL; method-override middleware)
    'x-rewrite-url',
    'x-http-method-override',
    'x-http-method',
    'x-method-override',
    // Next.js middleware bypass (CVE-2025-29927), for in-house upstreams built on it
    'x-middleware-subrequest',
    // Envoy's client-certificate header, named here as well as by prefix below for clarity
    'x-forwarded-client-cert',
    'x-arr-clientcert', // Azure App Service
  ]),
  stripPrefixes: Object.freeze([
    'x-gateway-', // the gateway's own namespace
    'x-forwarded-', // -user, -email, -groups, -preferred-username, -access-token, -for, -host, -proto, -prefix, -client-cert…
    'x-auth-request-', // oauth2-proxy
    'x-authenticated-', // Kong (-userid, -scope), others
    'x-consumer-', // Kong
    'x-user-',
    'x-tenant-',
    'x-remote-', // Kubernetes front-proxy (-group, -extra-*), -addr
    'remote-', // Authelia (-groups, -email, -name)
    'x-webauth-',
    'x-vouch-',
    'x-pomerium-', // -jwt-assertion, -claim-*
    'x-amzn-oidc-', // AWS ALB
    'x-ms-client-principal', // Azure App Service EasyAuth (-name, -id, -idp)
    'x-ms-token-', // Azure App Service token store
    'x-goog-authenticated-user-', // Google IAP
    'x-goog-iap-', // Google IAP signed assertion
    'cf-access-', // Cloudflare Access (-jwt-assertion, -authenticated-user-email)
    'x-device-', // plain posture claims; the signed assertion header is kept via postureHeader
    'x-posture-',
    'x-client-cert',
    'x-client-verify',
    'x-client-dn',
    'x-client-s-dn',
    'x-client-i-dn',
    'x-ssl-', // -client-*, -cert, -subject, -issuer, -verify
    'ssl-client-',
    'x-tls-',
    'x-mtls-',
    'x-jwt-',
    'x-principal',
    'x-impersonate-',
    'impersonate-', // Kubernetes impersonation (-user, -group, -uid, -extra-*)
    'x-original-', // -url, -uri, -method, -host
    'x-envoy-', // Envoy's internal headers (-original-path, -internal, -external-address)
  ]),
  postureHeader: 'x-device-posture-assertion',
  dropUnderscoreNames: true,
});

/** RFC 9110 token (field-name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field-value bytes: HTAB, SP..~, obs-text. Node already enforces this; checked again because this is a pure function anyone can call. */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/;
/** Leading and trailing optional whitespace (RFC 9110 OWS), removed from values. */
const OWS_ENDS = /^[ \t]+|[ \t]+$/g;

/** Lower-case (ASCII only: names are tokens) and `_` → `-`. */
function normName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/**
 * What the policy says about one spelling of a valid (token) header name, independent of the
 * request's Connection options. Computed once per spelling and cached (see `NAME_CACHE_MAX`).
 */
type NameInfo = {
  /** The name lower-cased: the key in the header map. */
  readonly lower: string;
  /** Lower-cased with `_` → `-`: what the strip, keep and hop-by-hop lists compare. */
  readonly norm: string;
  /** This name's bit in `Compiled.singletonBits` (it may occur only once), or 0. */
  readonly singletonBit: number;
  readonly isConnection: boolean;
  readonly isTransferEncoding: boolean;
  readonly isCookie: boolean;
  /** A hop-by-hop field: removed first, whatever else applies. */
  readonly hop: boolean;
  /** Why it is removed when it is neither hop-by-hop nor a Connection option (underscore, then policy); undefined when kept. */
  readonly why: RemovedWhy | undefined;
};

/**
 * How many name spellings each compiled policy remembers. Names are attacker-chosen, so the cache
 * stops growing here; names past the limit are classified on every request instead.
 */
const NAME_CACHE_MAX = 512;

type Compiled = {
  readonly strip: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly keep: ReadonlySet<string>;
  readonly protect: ReadonlySet<string>;
  /** Lower-cased names that may occur only once, each with its own bit. */
  readonly singletonBits: ReadonlyMap<string, number>;
  readonly contentLengthBit: number;
  readonly hop: ReadonlySet<string>;
  readonly dropUnderscore: boolean;
  /** Raw name spelling → its classification (valid token names only). */
  readonly names: Map<string, NameInfo>;
};

// Policies are configuration: built once and frozen, so compiling each once is safe.
const compiled = new WeakMap<HeaderPolicy, Compiled>();

function compile(p: HeaderPolicy): Compiled {
  const hit = compiled.get(p);
  if (hit) return hit;
  const posture = normName(p.postureHeader);
  const singletonBits = new Map<string, number>();
  for (const name of new Set([...SINGLETONS, posture])) singletonBits.set(name, 1 << singletonBits.size);
  const c: Compiled = {
    strip: new Set(p.strip.map(normName)),
    prefixes: p.stripPrefixes.map(normName).filter((x) => x !== ''),
    keep: new Set([posture, ...(p.keep ?? []).map(normName)]),
    protect: new Set([...PROTECTED, posture]),
    singletonBits,
    contentLengthBit: singletonBits.get('content-length') as number,
    hop: new Set(HOP_BY_HOP),
    dropUnderscore: p.dropUnderscoreNames ?? true,
    names: new Map(),
  };
  compiled.set(p, c);
  return c;
}

function policyStrips(c: Compiled, norm: string): boolean {
  if (c.keep.has(norm)) return false;
  if (c.strip.has(norm)) return true;
  return c.prefixes.some((x) => norm.startsWith(x));
}

/** The classification of a header name, or undefined when it is not a token. */
function nameInfo(c: Compiled, name: string): NameInfo | undefined {
  const hit = c.names.get(name);
  if (hit !== undefined) return hit;
  if (!TOKEN.test(name)) return undefined;
  const lower = name.toLowerCase();
  const norm = normName(name);
  let why: RemovedWhy | undefined;
  if (c.dropUnderscore && name.includes('_')) why = 'underscore';
  else if (policyStrips(c, norm)) why = 'policy';
  const info: NameInfo = {
    lower,
    norm,
    singletonBit: c.singletonBits.get(lower) ?? 0,
    isConnection: lower === 'connection',
    isTransferEncoding: lower === 'transfer-encoding',
    isCookie: lower === 'cookie',
    hop: c.hop.has(norm),
    why,
  };
  if (c.names.size < NAME_CACHE_MAX) c.names.set(name, info);
  return info;
}

/** The value without leading and trailing spaces and tabs. */
function trimOws(value: string): string {
  const n = value.length;
  if (n === 0) return value;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) return value;
  return value.replace(OWS_ENDS, '');
}

/** Add one kept header to the map; repeats are joined with `, ` (`cookie` with `; `). */
function addHeader(headers: Map<string, string>, info: NameInfo, value: string): void {
  const v = trimOws(value);
  const prev = headers.get(info.lower);
  headers.set(info.lower, prev === undefined ? v : `${prev}${info.isCookie ? '; ' : ', '}${v}`);
}

/**
 * Build the canonical header map from Node's `req.rawHeaders` (name, value, name, value…).
 *
 * Refuses (see `HEADER_REFUSAL_CODE`) a header name that is not a token, a value with control
 * characters, a second copy of `authorization`, `host`, `content-length`, `content-type` or the
 * posture header, `Content-Length` together with `Transfer-Encoding`, and a `Connection` option
 * naming a header the gateway needs (`PROTECTED`).
 */
export function canonicalHeaders(rawHeaders: readonly string[], policy: HeaderPolicy): CanonicalHeaders | Refusal {
  if (rawHeaders.length % 2 !== 0) return refuse('GW_ERR_INTERNAL_ERROR', 'raw header list has an odd length');
  const c = compile(policy);

  // One pass validates every header (in order, so the first fault decides the refusal), collects
  // the Connection options, and meanwhile builds the result as if no option mattered. An option
  // that is itself hop-by-hop changes nothing (hop-by-hop removal comes first); only when a
  // Connection header names some other field — it may come after the field it names — is the
  // result rebuilt below with all the options known.
  let options: Set<string> | undefined;
  let optionsMatter = false;
  let seen = 0;
  let transferEncoding = false;
  const headers = new Map<string, string>();
  let removed: Map<string, RemovedWhy> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) describe the request line,
    // which the shell passes separately; they are not headers.
    if (name.startsWith(':')) continue;
    const info = nameInfo(c, name);
    if (info === undefined) return refuse(HEADER_REFUSAL_CODE, 'a header name is not a valid token');
    if (BAD_VALUE_CHAR.test(value)) return refuse(HEADER_REFUSAL_CODE, `header ${info.lower} has a control character in its value`);
    if (info.singletonBit !== 0) {
      if ((seen & info.singletonBit) !== 0) return refuse(HEADER_REFUSAL_CODE, `header ${info.lower} occurs more than once`);
      seen |= info.singletonBit;
    }
    if (info.isTransferEncoding) transferEncoding = true;
    if (info.isConnection) {
      for (const token of value.split(',')) {
        const t = token.trim();
        if (t === '' || !TOKEN.test(t)) continue;
        const n = normName(t);
        if (c.protect.has(n)) return refuse(HEADER_REFUSAL_CODE, `Connection names ${n}, which the gateway needs`);
        (options ??= new Set()).add(n);
        if (!c.hop.has(n)) optionsMatter = true;
      }
    }
    if (optionsMatter) continue;
    const why = info.hop ? 'hop-by-hop' : info.why;
    if (why !== undefined) {
      removed ??= new Map();
      if (!removed.has(info.lower)) removed.set(info.lower, why);
      continue;
    }
    addHeader(headers, info, value);
  }
  // Request smuggling: which framing wins differs between implementations (RFC 9112 §6.3).
  if ((seen & c.contentLengthBit) !== 0 && transferEncoding) {
    return refuse(HEADER_REFUSAL_CODE, 'both Content-Length and Transfer-Encoding');
  }

  if (optionsMatter) {
    headers.clear();
    removed = new Map();
    const opts = options as Set<string>;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string;
      if (name.startsWith(':')) continue;
      const info = nameInfo(c, name) as NameInfo; // every name was checked above
      let why: RemovedWhy | undefined;
      if (info.hop) why = 'hop-by-hop';
      else if (opts.has(info.norm)) why = 'connection-option';
      else why = info.why;
      if (why !== undefined) {
        if (!removed.has(info.lower)) removed.set(info.lower, why);
        continue;
      }
      addHeader(headers, info, rawHeaders[i + 1] as string);
    }
  }

  if (removed === undefined || removed.size === 0) return { headers, removed: [] };
  const list = [...removed].map(([name, w]) => ({ name, why: w })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { headers, removed: list };
}

/** Lower-cased names of the client headers the policy removes, sorted; [] when the headers are refused. For logging. */
export function removedHeaderNames(rawHeaders: readonly string[], policy: HeaderPolicy): readonly string[] {
  const r = canonicalHeaders(rawHeaders, policy);
  return isRefusal(r) ? [] : r.removed.map((x) => x.name);
}
