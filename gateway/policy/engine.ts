/**
 * The policy engine: the compiled bundle evaluated in-process by @open-policy-agent/opa-wasm.
 * Fails closed: an evaluation that throws, returns nothing, or returns a document that breaks the
 * decision contract is a denial with reason `policy.error`, and the Wasm instance is replaced
 * (after a trap its memory may be in any state).
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { refuse } from '../errors.ts';
import type { Decision, Refusal } from '../types.ts';
import { readBundle, BundleError, type Bundle } from './bundle.ts';
import { checkDecision } from './contract.ts';
import { MASK_ENTRYPOINT } from '../../audit/mask.ts';

export type EngineOptions = {
  readonly bundlePath: string;
  readonly entrypoint: string;
  readonly memoryInitialPages: number;
  readonly memoryMaximumPages: number;
};

export type PolicyEngine = {
  readonly revision: string;
  readonly bundleSha256: string;
  readonly entrypoint: string;
  /**
   * Evaluate one input. Never throws. `json`, when given, is the JSON text of that same input
   * (the canonical text the decision log writes anyway): the SDK then copies its bytes instead of
   * running JSON.stringify again. Only text serialized from `input` belongs there: Wasm reads
   * text that is not JSON as no input at all (which the policy pack denies), not as an error.
   */
  evaluate(input: unknown, json?: string): Decision | Refusal;
  /** True when the bundle has the decision-log mask entrypoint (`system/log/mask`). */
  readonly hasMask: boolean;
  /**
   * Evaluate `system.log.mask` on a decision-log event (`{path, input}`): the rule's raw result
   * (undefined when the rule is undefined), or an Error when it failed to evaluate. Never throws.
   * Without the entrypoint: `{ result: undefined }`. `json` as for `evaluate`, of `input`, and
   * only ever `canonicalJson` output: text Wasm cannot read becomes an empty input, for which the
   * rule masks nothing, so a malformed text here would be logged unmasked.
   */
  mask(path: string, input: unknown, json?: string): { result: unknown } | Error;
  status(): { revision: string; evaluations: number; errors: number; reloads: number };
};

const encoder = new TextEncoder();

/**
 * The SDK takes an ArrayBuffer as ready JSON and copies it whole into Wasm memory, so it must be
 * exactly the text's bytes: TextEncoder gives a buffer of its own, never a pooled slice.
 */
function utf8Bytes(text: string): ArrayBuffer {
  return encoder.encode(text).buffer as ArrayBuffer;
}

async function instantiate(bundle: Bundle, o: EngineOptions): Promise<LoadedPolicy> {
  // An explicit memory descriptor: the SDK default (5 pages) fails on larger inputs (opa-wasm #89).
  const policy = await loadPolicy(bundle.wasm, { initial: o.memoryInitialPages, maximum: o.memoryMaximumPages });
  policy.setData(bundle.data);
  return policy;
}

/** Load the bundle and build the first instance. Throws BundleError when the bundle is unusable. */
export async function createPolicyEngine(o: EngineOptions): Promise<PolicyEngine> {
  const bundle = await readBundle(o.bundlePath);
  if (bundle.entrypoints.length > 0 && !bundle.entrypoints.includes(o.entrypoint)) {
    throw new BundleError(`policy.entrypoint: "${o.entrypoint}" is not an entrypoint of the bundle (has ${bundle.entrypoints.join(', ')})`);
  }
  let policy: LoadedPolicy | undefined = await instantiate(bundle, o);
  const hasMask = bundle.entrypoints.includes(MASK_ENTRYPOINT);
  let evaluations = 0;
  let errors = 0;
  let reloads = 0;
  let reloading: Promise<void> | undefined;

  const replaceInstance = () => {
    policy = undefined;
    reloading ??= instantiate(bundle, o)
      .then((p) => {
        policy = p;
        reloads++;
      })
      .catch(() => {
        // Stays undefined: every evaluation is denied until a later attempt succeeds.
      })
      .finally(() => {
        reloading = undefined;
      });
  };

  return {
    revision: bundle.revision,
    bundleSha256: bundle.sha256,
    entrypoint: o.entrypoint,
    evaluate(input: unknown, json?: string): Decision | Refusal {
      evaluations++;
      if (!policy) {
        errors++;
        replaceInstance();
        return refuse('GW_ERR_POLICY_ERROR', 'policy instance is being rebuilt after an evaluation error');
      }
      let resultSet: unknown;
      try {
        resultSet = policy.evaluate(json === undefined ? input : utf8Bytes(json), o.entrypoint);
      } catch (err) {
        errors++;
        replaceInstance();
        return refuse('GW_ERR_POLICY_ERROR', `evaluation failed: ${(err as Error).message}`);
      }
      const first = Array.isArray(resultSet) ? (resultSet[0] as { result?: unknown } | undefined) : undefined;
      const checked = checkDecision(first?.result);
      if (typeof checked === 'string') {
        errors++;
        return refuse('GW_ERR_POLICY_ERROR', checked);
      }
      return checked;
    },
    hasMask,
    mask(path: string, input: unknown, json?: string): { result: unknown } | Error {
      if (!hasMask) return { result: undefined };
      if (!policy) {
        replaceInstance();
        return new Error('policy instance is being rebuilt after an evaluation error');
      }
      try {
        // Members in canonical order, as canonicalJson would write the event.
        const event = json === undefined ? { path, input } : utf8Bytes(`{"input":${json},"path":${JSON.stringify(path)}}`);
        const resultSet = policy.evaluate(event, MASK_ENTRYPOINT);
        const first = Array.isArray(resultSet) ? (resultSet[0] as { result?: unknown } | undefined) : undefined;
        return { result: first?.result };
      } catch (err) {
        replaceInstance();
        return new Error(`system.log.mask failed to evaluate: ${(err as Error).message}`);
      }
    },
    status: () => ({ revision: bundle.revision, evaluations, errors, reloads }),
  };
}
