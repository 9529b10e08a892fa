/**
 * Reading the records of a trail in order, for the tools that look at what the records say
 * (`replay`, `explain`) rather than at the chain (`verify`): every instance folder under the
 * log root (or the folder itself), its segments in seq order, one parsed line at a time.
 * A line that is not JSON is reported as such, not thrown: these tools do not vouch for the
 * chain, `verify` does.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { listInstance } from './segments.ts';
import { findInstances } from './verify.ts';

export type TrailLine = {
  /** The instance folder's name (e.g. `gw-eu-1`). */
  readonly instance: string;
  readonly segment: string;
  /** 1-based line number in the segment. */
  readonly line: number;
  /** The parsed record, or undefined when the line is not a JSON object (`bad` says why). */
  readonly record?: Record<string, unknown>;
  readonly bad?: string;
};

/** Every line of every segment under `dir`, instance by instance, in seq order. */
export async function* readTrail(dir: string): AsyncGenerator<TrailLine> {
  for (const instDir of await findInstances(dir)) {
    const instance = basename(instDir);
    const { segments } = await listInstance(instDir);
    for (const { name } of segments) {
      const text = await readFile(join(instDir, name), 'utf8');
      const lines = text.split('\n');
      const torn = lines.pop(); // '' after a final newline; otherwise a torn last line
      let n = 0;
      for (const l of lines) {
        n++;
        yield parseLine(instance, name, n, l);
      }
      if (torn !== undefined && torn !== '') yield { instance, segment: name, line: n + 1, bad: 'incomplete last line (no newline)' };
    }
  }
}

function parseLine(instance: string, segment: string, line: number, text: string): TrailLine {
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return { instance, segment, line, record: v as Record<string, unknown> };
    return { instance, segment, line, bad: 'not a JSON object' };
  } catch {
    return { instance, segment, line, bad: 'not valid JSON' };
  }
}
