/**
 * What the gateway knows about one request as it moves through the pipeline (fastify's
 * `request.gw`), shared by the HTTP shell (server.ts) and the upstream-response half
 * (upstream-response.ts).
 */
import type { UpstreamConfig } from './config/load.ts';
import type { CanonicalRequest, Decision, Posture, Principal, Resource } from './types.ts';
import type { Adapter } from '../adapters/types.ts';

export type Upstream = { readonly config: UpstreamConfig; readonly adapter: Adapter; readonly basePath: string };

export type RequestState = {
  decisionId: string;
  startedAt: number;
  canonical?: CanonicalRequest;
  upstream?: Upstream;
  principal?: Principal;
  /** The caller's access token, kept only for an upstream with tokenExchange (never logged). */
  accessToken?: string;
  /** The token exchanged for this upstream (RFC 8693), forwarded instead of the caller's. */
  exchangedToken?: string;
  posture?: Posture;
  postureNote?: string;
  resource?: Resource;
  decision?: Decision;
  input?: unknown;
  /** `input`'s canonical JSON, written once for the policy, the mask rule and the log line. */
  inputJson?: string;
  forwardedAt?: number;
};

declare module 'fastify' {
  interface FastifyRequest {
    gw: RequestState;
  }
}

