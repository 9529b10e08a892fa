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

/** Lower-case (ASCII only: names are tokens) and `_` → `-`. */
function normName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

type Compiled = {
  readonly strip: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly keep: ReadonlySet<string>;
  readonly protect: ReadonlySet<string>;
  readonly singletons: ReadonlySet<string>;
  readonly hop: ReadonlySet<string>;
  readonly dropUnderscore: boolean;
};

// Policies are configuration: built once and frozen, so compiling each once is safe.
const compiled = new WeakMap<HeaderPolicy, Compiled>();

function compile(p: HeaderPolicy): Compiled {
  const hit = compiled.get(p);
  if (hit) return hit;
  const posture = normName(p.postureHeader);
  const c: Compiled = {
    strip: new Set(p.strip.map(normName)),
    prefixes: p.stripPrefixes.map(normName).filter((x) => x !== ''),
    keep: new Set([posture, ...(p.keep ?? []).map(normName)]),
    protect: new Set([...PROTECTED, posture]),
    singletons: new Set([...SINGLETONS, posture]),
    hop: new Set(HOP_BY_HOP),
    dropUnderscore: p.dropUnderscoreNames ?? true,
  };
  compiled.set(p, c);
  return c;
}

function policyStrips(c: Compiled, norm: string): boolean {
  if (c.keep.has(norm)) return false;
  if (c.strip.has(norm)) return true;
  return c.prefixes.some((x) => norm.startsWith(x));
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

  // First pass: validate, and collect the Connection options (a Connection header may come
  // after the header it names).
  const options = new Set<string>();
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) describe the request line,
    // which the shell passes separately; they are not headers.
    if (name.startsWith(':')) continue;
    if (!TOKEN.test(name)) return refuse(HEADER_REFUSAL_CODE, 'a header name is not a valid token');
    if (BAD_VALUE_CHAR.test(value)) return refuse(HEADER_REFUSAL_CODE, `header ${name.toLowerCase()} has a control character in its value`);
    const lower = name.toLowerCase();
    if (c.singletons.has(lower)) {
      if (seen.has(lower)) return refuse(HEADER_REFUSAL_CODE, `header ${lower} occurs more than once`);
      seen.add(lower);
    }
    if (lower === 'connection') {
      for (const token of value.split(',')) {
        const t = token.trim();
        if (t === '' || !TOKEN.test(t)) continue;
        const n = normName(t);
        if (c.protect.has(n)) return refuse(HEADER_REFUSAL_CODE, `Connection names ${n}, which the gateway needs`);
        options.add(n);
      }
    }
  }
  // Request smuggling: which framing wins differs between implementations (RFC 9112 §6.3).
  if (seen.has('content-length') && rawHeaders.some((n, i) => i % 2 === 0 && n.toLowerCase() === 'transfer-encoding')) {
    return refuse(HEADER_REFUSAL_CODE, 'both Content-Length and Transfer-Encoding');
  }

  const headers = new Map<string, string>();
  const removed = new Map<string, RemovedWhy>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = (rawHeaders[i + 1] as string).replace(/^[ \t]+|[ \t]+$/g, '');
    const lower = name.toLowerCase();
    const norm = normName(name);
    if (name.startsWith(':')) continue;
    let why: RemovedWhy | undefined;
    if (c.hop.has(norm)) why = 'hop-by-hop';
    else if (options.has(norm)) why = 'connection-option';
    else if (c.dropUnderscore && name.includes('_')) why = 'underscore';
    else if (policyStrips(c, norm)) why = 'policy';
    if (why !== undefined) {
      if (!removed.has(lower)) removed.set(lower, why);
      continue;
    }
    const prev = headers.get(lower);
    headers.set(lower, prev === undefined ? value : `${prev}${lower === 'cookie' ? '; ' : ', '}${value}`);
  }
  const list = [...removed].map(([name, w]) => ({ name, why: w })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { headers, removed: list };
}

/** Lower-cased names of the client headers the policy removes, sorted; [] when the headers are refused. For logging. */
export function removedHeaderNames(rawHeaders: readonly string[], policy: HeaderPolicy): readonly string[] {
  const r = canonicalHeaders(rawHeaders, policy);
  return isRefusal(r) ? [] : r.removed.map((x) => x.name);
}
