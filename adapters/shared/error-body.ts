/**
 * What of an upstream's error answer (a non-2xx body) a client may see. Error bodies are not
 * records, so no row condition or field rule applies to them, and an API can quote records in
 * them: Salesforce's DUPLICATES_DETECTED error lists the matching records (of any tenant of the
 * org, with their fields) under `duplicateResult`. So only members an adapter knows to be error
 * information pass, and everything else is dropped and named in the outcome record. Pure.
 */
import { isRawJson } from '../../gateway/json/exact-numbers.ts';

/**
 * The body the client gets; JSON Pointers to what was dropped (at most MAX_DROPPED listed) and to
 * the kept strings whose text was changed (`rewrite`, e.g. record ids taken out of a message).
 */
export type ErrorBody = { readonly body: unknown; readonly dropped: readonly string[]; readonly droppedTotal: number; readonly rewritten: readonly string[] };

/** Longest list of dropped pointers kept for the log; `droppedTotal` counts them all. */
export const MAX_DROPPED = 50;

/** Decides, per member of an error object, whether the client may see its value. */
export type KeepMember = (key: string, value: unknown) => boolean;

/** Rewrites a kept string member (the adapter's redaction); returns it unchanged when nothing applies. */
export type RewriteString = (key: string, value: string) => string;

// A number too long for a JS number is parsed as JSON.rawJSON (an object): it is a scalar here.
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !isRawJson(v);

const token = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The reduction shared by the adapters. An error body is read as the common shapes: a scalar
 * (kept: a message), an object (its members that `keep` accepts), or an array whose elements are
 * such objects (Salesforce's `[{errorCode, message, fields}]`); an array element that is not an
 * object, and any member `keep` refuses, is dropped.
 */
export function reduceErrorBody(body: unknown, keep: KeepMember, rewrite?: RewriteString): ErrorBody {
  const dropped: string[] = [];
  const rewritten: string[] = [];
  let total = 0;
  const drop = (pointer: string): void => {
    total++;
    if (dropped.length < MAX_DROPPED) dropped.push(pointer);
  };
  const reduceObject = (o: Record<string, unknown>, at: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (!keep(k, v)) {
        drop(`${at}/${token(k)}`);
        continue;
      }
      const w = rewrite !== undefined && typeof v === 'string' ? rewrite(k, v) : v;
      if (w !== v && rewritten.length < MAX_DROPPED) rewritten.push(`${at}/${token(k)}`);
      out[k] = w;
    }
    return out;
  };
  if (Array.isArray(body)) {
    const out: unknown[] = [];
    body.forEach((e, i) => {
      if (isObject(e)) out.push(reduceObject(e, `/${i}`));
      else drop(`/${i}`);
    });
    return { body: out, dropped, droppedTotal: total, rewritten };
  }
  if (isObject(body)) {
    const out = reduceObject(body, '');
    return { body: out, dropped, droppedTotal: total, rewritten };
  }
  // A bare string is a message: the adapter's rewrite applies to it too (key '').
  if (typeof body === 'string' && rewrite !== undefined) {
    const w = rewrite('', body);
    return { body: w, dropped, droppedTotal: 0, rewritten: w !== body ? [''] : [] };
  }
  return { body, dropped, droppedTotal: 0, rewritten };
}

/** A JSON scalar: what an error message, code or status is made of (a long number included). */
export const isScalar = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || isRawJson(v);

/** An array of strings (field names, in Salesforce's `fields`). */
export const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
