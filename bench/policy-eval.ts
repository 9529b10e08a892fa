/**
 * In-process policy evaluation: the engine the gateway uses (gateway/policy/engine.ts on the
 * built dist/bundle.tar.gz), fed the input the gateway builds for the benchmark's request, built
 * by the gateway's own stages (canonicalize → principalFromClaims → Salesforce resolve →
 * buildInput), so the document is the one crossing into Wasm on every gateway request.
 *
 * Each call is timed on its own with process.hrtime.bigint() and recorded (in ns) into an HDR
 * histogram; the report is in µs. Each timed call is what the gateway pays per decision, as it
 * calls it: the input's canonical JSON (which the gateway then reuses for the mask rule and the
 * log line), the bytes into Wasm, the result back out, and the decision-contract check.
 */
import * as hdr from 'hdr-histogram-js';
import type { Config } from '../gateway/config/load.ts';
import { canonicalize } from '../gateway/canonicalize.ts';
import { DEFAULT_HEADER_POLICY } from '../gateway/headers.ts';
import { isRefusal } from '../gateway/errors.ts';
import { principalFromClaims } from '../gateway/identity/principal.ts';
import { buildInput } from '../gateway/policy/input.ts';
import { createPolicyEngine } from '../gateway/policy/engine.ts';
import { tryCanonicalJson } from '../audit/canonical-json.ts';
import { createAdapter } from '../adapters/registry.ts';
import type { Posture } from '../gateway/types.ts';

export type PolicyEvalResult = {
  readonly bundle: string;
  readonly revision: string;
  readonly iterations: number;
  readonly warmupIterations: number;
  readonly inputBytes: number;
  readonly decision: { readonly allow: boolean; readonly reasons: number; readonly rowCondition: boolean; readonly fieldRules: number };
  /** Latencies in µs. */
  readonly us: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
};

export type PolicyEvalOptions = {
  readonly config: Config;
  /** Gateway-relative request target, e.g. '/sf/services/data/v60.0/query?q=…'. */
  readonly target: string;
  /** Verified token claims of the caller (as jose would return them). */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly posture: Posture;
  /** Measured for this long (ms) or `maxIterations` calls, whichever comes first. */
  readonly durationMs: number;
  readonly maxIterations: number;
  readonly warmupIterations: number;
};

export async function measurePolicyEval(o: PolicyEvalOptions): Promise<PolicyEvalResult> {
  const cfg = o.config;
  const engine = await createPolicyEngine({
    bundlePath: cfg.policy.bundle,
    entrypoint: cfg.policy.entrypoint,
    memoryInitialPages: cfg.policy.memoryInitialPages,
    memoryMaximumPages: cfg.policy.memoryMaximumPages,
  });
  const upstream = cfg.upstreams[0]!;
  const issuer = cfg.issuers[0]!;
  const headerPolicy = { ...DEFAULT_HEADER_POLICY, postureHeader: cfg.deviceTrust?.header ?? 'x-device-posture-assertion' };
  const canonical = canonicalize('GET', o.target, ['host', '127.0.0.1', 'authorization', 'Bearer x.y.z'], [{ name: upstream.name, prefix: upstream.prefix }], headerPolicy);
  if (isRefusal(canonical)) throw new Error(`policy-eval: canonicalize refused the target: ${canonical.code}`);
  const principal = principalFromClaims(o.claims, issuer);
  if (isRefusal(principal)) throw new Error(`policy-eval: claims refused: ${principal.code}`);
  const resource = createAdapter(upstream.adapter, upstream.adapterOptions).resolve(canonical, undefined);
  if (isRefusal(resource)) throw new Error(`policy-eval: adapter refused the request: ${resource.code}`);
  const input = buildInput({ principal, posture: o.posture, req: canonical, resource, now: new Date(), gatewayRegion: cfg.gateway.region });

  // As the gateway calls it (server.ts decide): the input with its canonical JSON.
  const decide = () => engine.evaluate(input, tryCanonicalJson(input));
  if (tryCanonicalJson(input) === undefined) throw new Error('policy-eval: the benchmark input has no canonical JSON');
  const first = decide();
  if (isRefusal(first)) throw new Error(`policy-eval: evaluation failed: ${first.code} ${first.detail ?? ''}`);
  if (!first.allow) throw new Error(`policy-eval: the benchmark input is denied: ${JSON.stringify(first.reasons)}`);

  for (let i = 0; i < o.warmupIterations; i++) decide();

  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
  const deadline = process.hrtime.bigint() + BigInt(Math.round(o.durationMs * 1e6));
  let n = 0;
  while (n < o.maxIterations) {
    const t0 = process.hrtime.bigint();
    const d = decide();
    const t1 = process.hrtime.bigint();
    if (isRefusal(d)) throw new Error(`policy-eval: evaluation ${n} failed: ${d.code}`);
    h.recordValue(Number(t1 - t0));
    n++;
    if (t1 > deadline) break;
  }
  const status = engine.status();
  if (status.errors > 0) throw new Error(`policy-eval: ${status.errors} evaluation errors`);
  const us = (ns: number) => Math.round(ns / 10) / 100; // ns → µs, 2 decimals
  const result: PolicyEvalResult = {
    bundle: cfg.policy.bundle,
    revision: engine.revision,
    iterations: n,
    warmupIterations: o.warmupIterations,
    inputBytes: Buffer.byteLength(JSON.stringify(input)),
    decision: {
      allow: first.allow,
      reasons: first.reasons.length,
      rowCondition: first.obligations.rows !== undefined,
      fieldRules: Object.values(first.obligations.fields ?? {}).reduce((a, f) => a + Object.keys(f).length, 0),
    },
    us: {
      p50: us(h.getValueAtPercentile(50)),
      p90: us(h.getValueAtPercentile(90)),
      p99: us(h.getValueAtPercentile(99)),
      max: us(h.maxValue),
      mean: us(h.mean),
    },
  };
  h.destroy();
  return result;
}
