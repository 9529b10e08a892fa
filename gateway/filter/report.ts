/**
 * Collects what a response filter did into a FilterReport (rows in/out, fields masked and
 * removed per object type, and the ids and fields of the records delivered) for the decision
 * log's outcome record.
 */
import type { FilterReport } from '../types.ts';

export type ReportBuilder = {
  /** Count one top-level row; nested (child) rows are not counted. */
  row(kept: boolean): void;
  /** Record fields masked/removed on a record of `objectType`. */
  fields(objectType: string, masked: readonly string[], removed: readonly string[]): void;
  /**
   * Record one record delivered to the client: its id (when it has one) and the fields whose
   * stored value it carries (not masked, not removed).
   */
  delivered(objectType: string, id: string | undefined, fields: readonly string[]): void;
  build(): FilterReport;
};

export function createReportBuilder(): ReportBuilder {
  let rowsIn = 0;
  let rowsOut = 0;
  const masked = new Map<string, Set<string>>();
  const removed = new Map<string, Set<string>>();
  const ids = new Map<string, Set<string>>();
  const delivered = new Map<string, Set<string>>();
  const setOf = (into: Map<string, Set<string>>, type: string): Set<string> => {
    let set = into.get(type);
    if (set === undefined) into.set(type, (set = new Set()));
    return set;
  };
  const add = (into: Map<string, Set<string>>, type: string, names: readonly string[]): void => {
    if (names.length === 0) return;
    const set = setOf(into, type);
    for (let i = 0; i < names.length; i++) set.add(names[i]!);
  };
  // Sorted keys and names so the log record is byte-identical for the same outcome.
  const freeze = (m: Map<string, Set<string>>): Record<string, readonly string[]> =>
    Object.fromEntries([...m.keys()].sort().map((k) => [k, [...(m.get(k) ?? [])].sort()]));
  return {
    row(kept) {
      rowsIn++;
      if (kept) rowsOut++;
    },
    fields(objectType, m, r) {
      add(masked, objectType, m);
      add(removed, objectType, r);
    },
    delivered(objectType, id, f) {
      if (id !== undefined) setOf(ids, objectType).add(id);
      add(delivered, objectType, f);
    },
    build: () => ({ rowsIn, rowsOut, masked: freeze(masked), removed: freeze(removed), ids: freeze(ids), delivered: freeze(delivered) }),
  };
}
