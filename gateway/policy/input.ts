/**
 * Builds the policy input document. Pure, and small on purpose: the input crosses into Wasm as
 * JSON on every evaluation, and it is what the decision log stores and replays. It never holds
 * a token, a posture assertion or a request header.
 *
 * `device` is `"unknown"` or `{managed, compliant, platform, risk?, age_s}`: `risk` only when the
 * assertion's `risk` claim is `low`, `medium` or `high`; `age_s` is the assertion's age (now − iat,
 * whole seconds) at this request, computed per request by identity/posture.ts `postureAt`.
 */
import type { CanonicalRequest, Posture, Principal, Resource } from '../types.ts';

export type PolicyInput = {
  subject: Record<string, unknown>;
  device: Posture;
  request: { method: string; path: string; query: Record<string, string[]> };
  resource: Record<string, unknown>;
  env: { now: string; gateway_region: string };
};

export function subjectOf(p: Principal): Record<string, unknown> {
  const s: Record<string, unknown> = {
    kind: p.kind,
    id: p.subject,
    tenant: p.tenant,
    issuer: p.issuer,
    roles: [...p.roles],
    scopes: [...p.scopes],
    regions: [...p.regions],
    clearance: p.clearance,
  };
  if (p.clientId !== undefined) s.client_id = p.clientId;
  return s;
}

export function queryOf(q: URLSearchParams): Record<string, string[]> {
  // A Map, then fromEntries: parameter names such as `constructor` or `__proto__` must be plain
  // own keys, never Object.prototype members (which `out[k] ??= []` would find or set).
  const m = new Map<string, string[]>();
  for (const [k, v] of q) {
    const vs = m.get(k);
    if (vs === undefined) m.set(k, [v]);
    else vs.push(v);
  }
  return Object.fromEntries(m);
}

export function resourceOf(r: Resource, current?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const o: Record<string, unknown> = { adapter: r.adapter, object: r.object, action: r.action };
  if (r.id !== undefined) o.id = r.id;
  if (r.fields !== undefined) o.fields = [...r.fields];
  // Sorted and unique, so the same query gives the same input (and log record) byte for byte.
  if (r.filterFields !== undefined && r.filterFields.length > 0) o.filter_fields = [...new Set(r.filterFields)].sort();
  if (r.body !== undefined) o.body = { ...r.body };
  if (current !== undefined) o.current = { ...current };
  return o;
}

export function buildInput(a: {
  principal: Principal;
  posture: Posture;
  req: CanonicalRequest;
  resource: Resource;
  current?: Readonly<Record<string, unknown>>;
  now: Date;
  gatewayRegion: string;
}): PolicyInput {
  return {
    subject: subjectOf(a.principal),
    device: a.posture,
    request: { method: a.req.method, path: a.req.path, query: queryOf(a.req.query) },
    resource: resourceOf(a.resource, a.current),
    env: { now: a.now.toISOString(), gateway_region: a.gatewayRegion },
  };
}
