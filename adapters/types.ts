/**
 * The one small interface every CRM response shape implements. Adapters are pure: they see the
 * canonical request and parsed JSON values, never the transport, a token or the file system.
 * They are created from their config options and registered in adapters/registry.ts.
 */
import type { CanonicalRequest, FilterReport, Obligations, Refusal, Resource } from '../gateway/types.ts';
import type { ErrorBody } from './shared/error-body.ts';

export type FilterResult = { readonly body: unknown; readonly report: FilterReport };

export interface Adapter {
  /** Registry name, e.g. 'salesforce' or 'generic-json'. */
  readonly name: string;
  /**
   * Which object, record, action and fields a request is about. `body` is the safely parsed
   * JSON body of a write (undefined when there is none). An unknown route is a refusal
   * (GW_ERR_RES_UNKNOWN_ROUTE), never a pass-through.
   */
  resolve(req: CanonicalRequest, body: unknown): Resource | Refusal;
  /**
   * Apply the decision's obligations to a parsed upstream body: drop rows failing
   * `obligations.rows`, remove/replace fields per `obligations.fields`, keep counts and
   * per-record metadata consistent. Fails closed: a body of an unexpected shape is a refusal
   * (GW_ERR_UPSTREAM_SHAPE), never passed through.
   */
  filter(body: unknown, resource: Resource, obligations: Obligations): FilterResult | Refusal;
  /**
   * What of a parsed non-2xx body the client may see: only what the API documents as error
   * information (adapters/shared/error-body.ts). Error bodies are not filtered against the
   * decision, and an API can quote records in them, so everything else is dropped.
   */
  errorBody(body: unknown): ErrorBody;
  /**
   * The query string (without `?`) that reads only `fields` of the record a write names, for the
   * gateway's read of the stored record before an update/delete; '' when the API has no such
   * parameter (the whole record is read, and only `fields` are kept).
   */
  currentRecordQuery(fields: readonly string[]): string;
}

export type AdapterFactory = (options: Readonly<Record<string, unknown>>) => Adapter;
