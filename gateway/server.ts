/**
 * The HTTP shell. Fastify and @fastify/http-proxy carry bytes; every decision is made by the pure
 * stages this file calls in order (lifecycle as data, see PIPELINE below):
 *
 *   onRequest   canonicalize → authenticate → posture
 *   preHandler  (body read) → resolve → decide → log decision
 *   handler     forward (reply.from with the canonical path and query, byte for byte)
 *   onResponse  read + filter body → log outcome → release (upstream-response.ts)
 *
 * Every refusal goes through `refuseAndLog`: one decision record with its reason, then one
 * problem+json answer carrying the decision id.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { Config } from './config/load.ts';
import { ERRORS, isRefusal, reasonsOf, refuse, type ErrorCode } from './errors.ts';
import type { Refusal } from './types.ts';
import { canonicalize } from './canonicalize.ts';
import { DEFAULT_HEADER_POLICY, type HeaderPolicy } from './headers.ts';
import { authorizationToken, checkedToken } from './identity/bearer.ts';
import { boundJkt, certificateThumbprint, dpopHeaderValues, requestUrl } from './identity/dpop.ts';
import { createAuthenticator } from './identity/authenticate.ts';
import { createPostureVerifier, postureAt, type PostureResult } from './identity/posture.ts';
import { createVerifiedCache } from './identity/verified-cache.ts';
import { createTokenExchanger } from './identity/token-exchange.ts';
import type { IssuerRegistry } from './identity/issuers.ts';
import { takeQueryToken } from './query-token.ts';
import { createClientAddressResolver } from './client-address.ts';
import { createRefusalCounter, renderMetrics } from './metrics.ts';
import type { PolicyEngine } from './policy/engine.ts';
import { buildInput, queryOf, subjectOf } from './policy/input.ts';
import { safeParseJson } from './json/safe-parse.ts';
import { isJsonContentType } from './response-filter.ts';
import { createUpstreamResponse, type UpstreamAnswer } from './upstream-response.ts';
import type { RequestState, Upstream } from './request-state.ts';
import { DECISION_ID_HEADER, sendProblem } from './respond.ts';
import { upstreamHeaders } from './upstream-headers.ts';
import { upstreamErrorCode } from './upstream-errors.ts';
import { rowFieldsMissing } from './filter/row-fields.ts';
import { prefetchCurrent } from './prefetch.ts';
import { createAdapter } from '../adapters/registry.ts';
import type { DecisionLog } from '../audit/decision-log.ts';
import type { DecisionRecord, Labels } from '../audit/event.ts';
import { minimizeInput } from '../audit/mask.ts';
import { CanonicalText, tryCanonicalJson } from '../audit/canonical-json.ts';

export const PIPELINE = ['canonicalize', 'authenticate', 'posture', 'resolve', 'current-record', 'decide', 'log', 'forward', 'filter', 'outcome'] as const;

export type GatewayDeps = {
  readonly config: Config;
  readonly engine: PolicyEngine;
  readonly decisionLog: DecisionLog;
  readonly issuers: IssuerRegistry;
  readonly version: string;
  /** The gateway's clock; passed to the policy as env.now. Injectable so tests can freeze it. */
  readonly now?: () => Date;
};

type Stage = DecisionRecord['decided_by'];

export async function buildGateway(d: GatewayDeps): Promise<FastifyInstance> {
  const cfg = d.config;
  const now = d.now ?? (() => new Date());
  const labels: Labels = { instance_id: cfg.gateway.instanceId, version: d.version, gateway_region: cfg.gateway.region };
  const postureHeader = cfg.deviceTrust?.header ?? 'x-device-posture-assertion';
  const headerPolicy: HeaderPolicy = {
    ...DEFAULT_HEADER_POLICY,
    strip: [...DEFAULT_HEADER_POLICY.strip, ...cfg.proxy.headerStrip],
    stripPrefixes: [...DEFAULT_HEADER_POLICY.stripPrefixes, ...cfg.proxy.headerStripPrefixes],
    postureHeader,
  };
  const verifyPosture = createPostureVerifier(cfg.deviceTrust, { timeouts: cfg.timeouts, log: (msg, extra) => app.log.info(extra ?? {}, msg) });
  // Both caches live in the authenticator: JWT principals (tied to the verifying key) and introspection results.
  const authenticator = createAuthenticator({
    issuers: d.issuers,
    cacheEntries: cfg.limits.verifiedCacheEntries,
    verifiedCacheMs: cfg.timeouts.verifiedCacheMs,
    introspectionCacheMs: cfg.timeouts.introspectionCacheMs,
    inactiveCacheMs: cfg.timeouts.inactiveCacheMs,
    log: (msg, extra) => app.log.warn(extra ?? {}, msg),
  });
  const tokenExchanger = createTokenExchanger({
    issuers: d.issuers,
    timeoutMs: cfg.timeouts.discoveryMs,
    cacheEntries: cfg.limits.verifiedCacheEntries,
    log: (msg, extra) => app.log.warn(extra ?? {}, msg),
  });
  const clientAddress = createClientAddressResolver(cfg.proxy.trustedProxies);
  const postures = createVerifiedCache<PostureResult>({ max: cfg.limits.verifiedCacheEntries, maxTtlMs: cfg.timeouts.verifiedCacheMs });
  const refusals = createRefusalCounter();
  const upstreams = new Map<string, Upstream>();
  for (const u of cfg.upstreams) {
    const basePath = new URL(u.url).pathname.replace(/\/+$/, '');
    upstreams.set(u.name, { config: u, adapter: createAdapter(u.adapter, u.adapterOptions), basePath });
  }
  const routes = cfg.upstreams.map((u) => ({ name: u.name, prefix: u.prefix }));


  // listen.tls: HTTPS in the gateway, client certificates verified against clientCa (RFC 8705).
  const tls = cfg.listen.tls;
  const https = tls
    ? {
        cert: readFileSync(tls.cert),
        key: readFileSync(tls.key),
        ...(tls.clientCa !== undefined ? { ca: readFileSync(tls.clientCa) } : {}),
        requestCert: tls.requestClientCert || tls.requireClientCert,
        rejectUnauthorized: tls.requireClientCert,
        minVersion: 'TLSv1.2' as const,
      }
    : undefined;
  // The connection's client certificate, read per request (not per connection: a TLS 1.2
  // renegotiation may change it). Only a certificate that verified against clientCa counts.
  // A getter: the certificate is read and hashed only for tokens that are certificate-bound.
  const clientCertificate = (socket: Socket): { readonly x5tS256: string | undefined } => ({
    get x5tS256() {
      const s = socket as TLSSocket;
      if (s.encrypted !== true || s.authorized !== true) return undefined;
      const peer = s.getPeerCertificate();
      return peer && peer.raw !== undefined && peer.raw.length > 0 ? certificateThumbprint(peer.raw) : undefined;
    },
  });

  const app = Fastify({
    ...(https ? { https } : {}),
    logger: {
      level: cfg.logging.level,
      // Paths only: query strings carry SOQL with customer data (and, refused, access tokens).
      serializers: { req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, path: (req.url ?? '').split('?')[0] }) },
    },
    bodyLimit: cfg.limits.requestBodyBytes,
    routerOptions: {
      caseSensitive: true,
      ignoreDuplicateSlashes: false,
      ignoreTrailingSlash: false,
      // `request.query` stays empty: the canonical request (canonicalize.ts) is the one parse of
      // the target that the policy, the log and the upstream see, and a second parser's reading
      // is nothing anyone should act on (it also cost a parse per request).
      querystringParser: () => ({}),
    },
    return503OnClosing: true,
    // Never a client's id: the request id is the decision id (onRequest), which must stay ours.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  });
  app.decorateRequest('gw', null as unknown as RequestState);
  app.addHook('onClose', async () => verifyPosture.stop());

  // ---- refusal path -------------------------------------------------------------------------

  const baseRecord = (st: RequestState) => ({
    v: 1 as const,
    decision_id: st.decisionId,
    timestamp: now().toISOString(),
    labels,
  });

  /** Input for a record written before the policy ran: what is known so far, never a credential. */
  const partialInput = (request: FastifyRequest): Record<string, unknown> => {
    const st = request.gw;
    const input: Record<string, unknown> = {};
    if (st.principal) input.subject = subjectOf(st.principal);
    if (st.posture !== undefined) input.device = st.posture;
    if (st.canonical) {
      const query = queryOf(st.canonical.query);
      delete query.access_token;
      input.request = { method: st.canonical.method, path: st.canonical.path, query };
    } else {
      // The raw target as received (JSON-escaped by the encoder), bounded: ambiguous targets are evidence.
      input.request = { method: request.raw.method ?? '', raw_target: redactTarget(request.raw.url ?? '').slice(0, 2048) };
    }
    if (st.resource) input.resource = { object: st.resource.object, action: st.resource.action, ...(st.resource.id ? { id: st.resource.id } : {}) };
    return input;
  };

  /**
   * Minimize the input (decisionLog.erase, the bundle's system.log.mask, decisionLog.maxInputBytes;
   * audit/mask.ts), then write one decision record. `true` when written as asked; else the refusal
   * to answer: a mask rule that fails or returns something malformed writes, instead, a gateway
   * refusal `audit.mask_failed` with an empty input (the unmasked input is never written).
   */
  const writeDecision = async (
    request: FastifyRequest,
    asked: Omit<DecisionRecord, 'kind' | 'v' | 'decision_id' | 'timestamp' | 'labels' | 'path' | 'bundles' | 'erased' | 'masked' | 'input_truncated' | 'provenance'>,
  ): Promise<true | 'GW_ERR_AUDIT_MASK_FAILED' | 'GW_ERR_AUDIT_WRITE_FAILED'> => {
    const st = request.gw;
    // The decision's input was serialized once in `decide` (policy, mask rule and log line share it).
    const json = asked.input === st.input ? st.inputJson : undefined;
    const mask = d.engine.mask(cfg.policy.entrypoint, asked.input, json);
    let min =
      mask instanceof Error
        ? mask
        : minimizeInput(asked.input, {
            erase: cfg.decisionLog.erase,
            maskResult: mask.result,
            maxInputBytes: cfg.decisionLog.maxInputBytes,
            ...(json !== undefined ? { canonical: json } : {}),
          });
    let rec = asked;
    if (min instanceof Error) {
      request.log.error({ decisionId: st.decisionId, detail: min.message }, 'decision log mask rule failed; refusing');
      const failed = refuse('GW_ERR_AUDIT_MASK_FAILED', min.message);
      rec = { decided_by: 'gateway', input: {}, result: null, allow: false, reasons: reasonsOf(failed), status: ERRORS[failed.code].status };
      min = { input: {}, erased: [], masked: [], truncated: false };
    }
    const { erased, masked, truncated } = min;
    // Serialized once already (to measure it): the line embeds that text instead of a second pass.
    const input = min.canonicalInput !== undefined ? new CanonicalText(min.canonicalInput) : min.input;
    const provenance: DecisionRecord['provenance'] = {
      bundle_sha256: d.engine.bundleSha256,
      gateway_version: d.version,
      ...(st.postureNote !== undefined ? { posture: st.postureNote } : {}),
    };
    const record: DecisionRecord = {
      kind: 'decision',
      ...baseRecord(st),
      path: cfg.policy.entrypoint,
      bundles: { policy: { revision: d.engine.revision } },
      ...rec,
      input,
      erased,
      ...(masked.length > 0 ? { masked } : {}),
      ...(truncated ? { input_truncated: true as const } : {}),
      provenance,
    };
    try {
      await d.decisionLog.append(record);
      return rec === asked ? true : 'GW_ERR_AUDIT_MASK_FAILED';
    } catch (err) {
      request.log.error({ err, decisionId: st.decisionId }, 'decision log write failed; refusing');
      return 'GW_ERR_AUDIT_WRITE_FAILED';
    }
  };

  /**
   * The one refusal path: a decision record with the real reasons, then the answer. `answer`
   * replaces what the client is told when the real reasons would reveal something (a record of
   * another tenant exists); the record keeps both.
   */
  const refuseAndLog = async (
    request: FastifyRequest,
    reply: FastifyReply,
    r: Refusal,
    stage: Stage,
    opts: { result?: unknown; answer?: Refusal } = {},
  ): Promise<FastifyReply> => {
    const st = request.gw;
    const answer = opts.answer ?? r;
    const written = await writeDecision(request, {
      decided_by: stage,
      input: st.input ?? partialInput(request),
      result: opts.result ?? null,
      allow: false,
      reasons: reasonsOf(r),
      status: ERRORS[answer.code].status,
      ...(opts.answer ? { answered: ERRORS[answer.code].reason } : {}),
    });
    const sent = written === true ? answer : refuse(written);
    refusals.count(ERRORS[sent.code].reason);
    return sendProblem(reply, sent, st.decisionId);
  };

  // ---- onRequest: canonicalize, authenticate, posture ----------------------------------------

  app.addHook('onRequest', async (request, reply) => {
    // The request id (genReqId) doubles as the decision id: pino's reqId and the log agree.
    const st: RequestState = { decisionId: request.id, startedAt: performance.now() };
    request.gw = st;
    if ((request.routeOptions.config as { probe?: boolean } | undefined)?.probe === true) return undefined;
    reply.header(DECISION_ID_HEADER, st.decisionId);

    const c0 = canonicalize(request.raw.method ?? '', request.raw.url ?? '', request.raw.rawHeaders, routes, headerPolicy);
    if (isRefusal(c0)) return refuseAndLog(request, reply, c0, 'canonicalize');
    // RFC 6750 §2.3 tokens end up in logs and proxies: refused unless proxy.allowQueryToken; either
    // way the parameter leaves the canonical request here, so neither the policy, the decision
    // log nor the upstream ever sees it.
    const q = takeQueryToken(c0);
    const c = { ...q.req, clientAddress: clientAddress(request.raw.socket.remoteAddress, request.raw.headers['x-forwarded-for']) };
    st.canonical = c;
    st.upstream = upstreams.get(c.upstream);
    let token: { scheme: 'bearer' | 'dpop'; token: string } | Refusal;
    if (q.tokens.length === 0) token = authorizationToken(c.headers.get('authorization'), cfg.limits.tokenBytes);
    else if (!cfg.proxy.allowQueryToken) return refuseAndLog(request, reply, refuse('GW_ERR_REQ_TOKEN_IN_QUERY'), 'canonicalize');
    else if (q.tokens.length > 1 || c.headers.has('authorization')) {
      // RFC 6750 §2: a client must not use more than one method (or token) per request.
      return refuseAndLog(request, reply, refuse('GW_ERR_REQ_TOKEN_IN_QUERY', 'one access token, in one place (RFC 6750 §2)'), 'canonicalize');
    } else {
      const qt = checkedToken(q.tokens[0]!, cfg.limits.tokenBytes);
      token = isRefusal(qt) ? qt : { scheme: 'bearer', token: qt };
    }
    if (isRefusal(token)) return refuseAndLog(request, reply, token, 'authenticate');
    const nowMs = now().getTime();
    // DPoP (RFC 9449): the proof must name the URL the client addressed (see identity/dpop.ts).
    // The URL is computed only when a sender-constraint check reads it (a plain bearer never does).
    let url: string | undefined | null = null;
    const presentation = {
      scheme: token.scheme,
      proofs: dpopHeaderValues(request.raw.rawHeaders),
      method: c.method,
      get url() {
        if (url === null) url = requestUrl({ publicOrigin: cfg.proxy.publicOrigin, host: request.raw.headers.host, encrypted: (request.raw.socket as { encrypted?: boolean }).encrypted === true, rawTarget: request.raw.url ?? '' });
        return url;
      },
      ...(tls ? { mtls: clientCertificate(request.raw.socket) } : {}),
    };
    const principal = await authenticator.authenticate(token.token, nowMs, presentation);
    if (isRefusal(principal)) return refuseAndLog(request, reply, principal, 'authenticate');
    st.principal = principal;
    if (st.upstream?.config.tokenExchange) st.accessToken = token.token;

    const assertion = c.headers.get(postureHeader);
    // Cached per (subject, assertion): the same assertion presented with another token is re-checked.
    // and per DPoP key: an assertion bound to a key (cnf.jkt) holds only with a token bound to it.
    const jkt = boundJkt(principal.claims);
    const postureKey = assertion ? `${principal.subject}\n${jkt ?? ''}\n${assertion}` : undefined;
    // A cached result holds only while the key that verified it is still published (jwksUri keys).
    let posture = postureKey ? postures.get(postureKey, nowMs, verifyPosture.holds) : undefined;
    if (!posture) {
      posture = await verifyPosture(assertion, principal.subject, jkt);
      if (postureKey && posture.expiresAtMs !== undefined) postures.set(postureKey, posture, posture.expiresAtMs, nowMs);
    }
    st.posture = postureAt(posture, nowMs); // age_s as of this request, never the cached one
    st.postureNote = posture.note;
    return undefined;
  });

  // ---- preHandler: resolve, decide, log ------------------------------------------------------

  /** The token exchanged for the request's upstream (stored in the request state), or a refusal. */
  const exchangeToken = async (st: RequestState): Promise<string | Refusal> => {
    const exp = st.principal!.claims.exp;
    const x = await tokenExchanger.exchange(st.upstream!.config, st.accessToken!, now().getTime(), typeof exp === 'number' ? exp * 1000 : undefined);
    if (!isRefusal(x)) st.exchangedToken = x;
    st.accessToken = undefined;
    return x;
  };

  const decide = async (request: FastifyRequest, reply: FastifyReply) => {
    const st = request.gw;
    const up = st.upstream!;
    let body: unknown;
    const raw = request.body;
    if (Buffer.isBuffer(raw) && raw.length > 0) {
      if (!isJsonContentType(request.headers['content-type'])) return refuseAndLog(request, reply, refuse('GW_ERR_REQ_UNSUPPORTED_MEDIA'), 'resolve');
      const parsed = safeParseJson(raw, { maxDepth: cfg.limits.jsonDepth });
      if (!parsed.ok) return refuseAndLog(request, reply, refuse('GW_ERR_REQ_BODY_INVALID', parsed.why), 'resolve');
      body = parsed.value;
    }
    const resource = up.adapter.resolve(st.canonical!, body);
    if (isRefusal(resource)) return refuseAndLog(request, reply, resource, 'resolve');
    st.resource = resource;

    let current: Record<string, unknown> | undefined;
    const prefetch = (resource.action === 'update' || resource.action === 'delete') && resource.id !== undefined;
    // RFC 8693: the upstream gets a token exchanged for it, never the caller's; without one nothing
    // is forwarded (fail closed). Asked before the record read of an update/delete, which needs it too.
    if (up.config.tokenExchange && prefetch) {
      const x = await exchangeToken(st);
      if (isRefusal(x)) return refuseAndLog(request, reply, x, 'resolve');
    }
    if (prefetch) {
      const fields = up.config.currentFields;
      const q = up.adapter.currentRecordQuery(fields);
      const query = q === '' ? '' : `?${q}`;
      const got = await prefetchCurrent({
        url: `${new URL(up.config.url).origin}${up.basePath}${st.canonical!.path}${query}`,
        headers: upstreamHeaders({ req: st.canonical!, principal: st.principal!, decisionId: st.decisionId, postureHeader, forwardAuthorization: up.config.forwardAuthorization, filtered: true, ...(st.exchangedToken !== undefined ? { exchangedToken: st.exchangedToken } : {}) }),
        fields,
        timeouts: cfg.timeouts,
        maxBytes: cfg.limits.responseBodyBytes,
        maxDepth: cfg.limits.jsonDepth,
      });
      if (isRefusal(got)) return refuseAndLog(request, reply, got, 'resolve');
      current = got;
    }

    const input = buildInput({
      principal: st.principal!,
      posture: st.posture ?? 'unknown',
      req: st.canonical!,
      resource,
      ...(current ? { current } : {}),
      now: now(),
      gatewayRegion: cfg.gateway.region,
    });
    st.input = input;
    st.inputJson = tryCanonicalJson(input);
    const decision = d.engine.evaluate(input, st.inputJson);
    if (isRefusal(decision)) {
      request.log.error({ decisionId: st.decisionId, detail: decision.detail }, 'policy error; denying');
      return refuseAndLog(request, reply, decision, 'policy');
    }
    const result = { allow: decision.allow, reasons: decision.reasons, obligations: decision.obligations };
    if (!decision.allow) {
      const first = decision.reasons[0];
      const denied = refuse('GW_ERR_POLICY_DENIED', first ? first.message : undefined, decision.reasons);
      // A write to a record the subject may not see is answered as if the record did not exist:
      // "belongs to tenant globex" would confirm the id and leak its tenant. The log keeps the truth.
      const hidden = current !== undefined && decision.reasons.some((x) => RECORD_REVEALING_REASONS.has(x.code));
      return refuseAndLog(request, reply, denied, 'policy', { result, ...(hidden ? { answer: refuse('GW_ERR_RES_RECORD_HIDDEN') } : {}) });
    }
    const missing = rowFieldsMissing(decision.obligations.rows, resource.fields);
    if (missing.length > 0) {
      const r = refuse('GW_ERR_RES_ROW_FIELDS_MISSING', `select ${missing.join(', ')}: the row filter of this request needs them`);
      return refuseAndLog(request, reply, r, 'gateway', { result });
    }
    if (up.config.tokenExchange && st.exchangedToken === undefined) {
      const x = await exchangeToken(st);
      if (isRefusal(x)) return refuseAndLog(request, reply, x, 'gateway', { result });
    }
    const written = await writeDecision(request, { decided_by: 'policy', input, result, allow: true, reasons: decision.reasons });
    if (written !== true) return sendProblem(reply, refuse(written), st.decisionId);
    st.decision = decision;
    return undefined;
  };

  // ---- outcome + response (upstream-response.ts) ----------------------------------------------

  const { onResponse, failResponse } = createUpstreamResponse({ decisionLog: d.decisionLog, baseRecord, limits: cfg.limits });

  // ---- routes: one proxy per upstream ----------------------------------------------------------

  for (const up of upstreams.values()) {
    await app.register(async (scope) => {
      // Bodies are read as bytes (bounded by bodyLimit), parsed by us for the decision and
      // forwarded unchanged: the upstream receives exactly what the policy judged.
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      await scope.register(httpProxy, {
        upstream: new URL(up.config.url).origin,
        prefix: up.config.prefix,
        // Given so http-proxy keeps our parsers (else it streams bodies raw); a callback hook, not
        // an async one: it runs on every request and has nothing to wait for.
        preValidation: (_request: FastifyRequest, _reply: FastifyReply, done: () => void) => done(),
        preHandler: decide,
        undici: {
          connectTimeout: cfg.timeouts.connectMs,
          headersTimeout: cfg.timeouts.headersMs,
          bodyTimeout: cfg.timeouts.bodyMs,
        },
        handler: (request: FastifyRequest, reply: FastifyReply, _dest: string, options: object) => {
          const st = request.gw;
          st.forwardedAt = performance.now();
          const raw = request.body;
          const withBody = Buffer.isBuffer(raw) && raw.length > 0 ? { body: raw, contentType: String(request.headers['content-type']) } : {};
          return reply.from(up.basePath + st.canonical!.path, { ...options, ...withBody });
        },
        replyOptions: {
          retryDelay: () => null, // never retry: a retried write is a second write
          // The decision id is the gateway's: an upstream header of the same name must not replace it.
          rewriteHeaders: (headers: Record<string, unknown>, request: FastifyRequest) => ({ ...headers, [DECISION_ID_HEADER]: request.gw.decisionId }),
          queryString: (_search: string, _url: string, request: FastifyRequest) => request.gw.canonical!.rawQuery,
          rewriteRequestHeaders: (request: FastifyRequest) => {
            const st = request.gw;
            return upstreamHeaders({
              req: st.canonical!,
              principal: st.principal!,
              decisionId: st.decisionId,
              postureHeader,
              forwardAuthorization: up.config.forwardAuthorization,
              filtered: st.resource?.filtered ?? true,
              ...(st.exchangedToken !== undefined ? { exchangedToken: st.exchangedToken } : {}),
            });
          },
          onResponse: (request: FastifyRequest, reply: FastifyReply, res: unknown) => {
            void onResponse(request, reply, res as UpstreamAnswer);
          },
          onError: (reply: FastifyReply, { error }: { error: { code?: string; cause?: { code?: string } } }) => {
            void failResponse(reply.request, reply, 0, refuse(upstreamErrorCode(error)));
          },
        },
      } as Parameters<typeof httpProxy>[1]);
    });
  }

  // ---- fallbacks --------------------------------------------------------------------------------

  app.setNotFoundHandler(async (request, reply) => {
    // canonicalize already refused unrouted paths; this catches methods the proxy does not route.
    request.gw ??= { decisionId: request.id, startedAt: performance.now() };
    return refuseAndLog(request, reply, refuse('GW_ERR_RES_METHOD_NOT_ALLOWED', `method ${request.method.slice(0, 16)}`), 'gateway');
  });

  app.setErrorHandler(async (err: { code?: string; statusCode?: number; message: string }, request, reply) => {
    request.gw ??= { decisionId: request.id, startedAt: performance.now() };
    const code: ErrorCode =
      err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'GW_ERR_REQ_BODY_TOO_LARGE'
        : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'GW_ERR_REQ_UNSUPPORTED_MEDIA'
          : err.statusCode === 400
            ? 'GW_ERR_REQ_BODY_INVALID'
            : 'GW_ERR_INTERNAL_ERROR';
    if (code === 'GW_ERR_INTERNAL_ERROR') request.log.error({ err }, 'unhandled error; refusing');
    if (reply.sent) return reply;
    return refuseAndLog(request, reply, refuse(code), 'gateway');
  });

  // Probes live outside every upstream prefix and carry no data, so the pipeline skips them.
  app.get('/healthz', { config: { probe: true } }, async () => ({ status: 'ok' }));
  app.get('/metrics', { config: { probe: true } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(refusals, d.issuers.status(), d.decisionLog.status())),
  );
  app.get('/readyz', { config: { probe: true } }, async (_request, reply) => {
    const log = d.decisionLog.status();
    const ready = d.issuers.ready() && log.healthy;
    const deviceTrustKeys = verifyPosture.status();
    return reply.code(ready ? 200 : 503).send({
      ready,
      issuers: d.issuers.status(),
      decisionLog: log,
      policy: d.engine.status(),
      // deviceTrust.jwksUri keys (informational: posture never refuses, so they do not gate readiness)
      ...(deviceTrustKeys ? { deviceTrust: { keys: deviceTrustKeys } } : {}),
    });
  });

  return app;
}

/** Policy reasons that are about the stored record of an update/delete (see the deny branch). */
const RECORD_REVEALING_REASONS = new Set(['tenant.mismatch', 'region.not_entitled']);

/** The raw target with any access_token value cut out, for the refusal record. */
function redactTarget(target: string): string {
  return target.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}
