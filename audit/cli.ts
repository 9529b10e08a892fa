#!/usr/bin/env node
/**
 * The auditor's command line: `npm run audit -- <verb> …` (or the `crm-gateway-audit` bin).
 *
 *   verify <dir> [--public-key <pem>]   check every chain, segment boundary and checkpoint
 *   replay <dir> [--from …] [--to …]    re-evaluate policy decisions against their archived bundles (audit/replay.ts)
 *   explain <dir> <decision_id>         one decision and its outcome in words (audit/explain.ts)
 *   query <dir> "<SQL>" [--format f]    SQL over the trail with DuckDB (audit/query.ts)
 *
 * Exit status: 0 all good (one summary line), 1 the trail does not verify (the first bad
 * position of each instance), 2 usage or I/O errors.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeProblem, summaryLine, verifyLog } from './verify.ts';
import { replayCommand } from './replay.ts';
import { explainCommand } from './explain.ts';
import { queryCommand } from './query.ts';

const USAGE = `usage: npm run audit -- verify <log dir | instance dir> [--public-key <file.pem>]

  verify   checks seq continuity, prev-hash links, segment boundaries and the signed
           checkpoints of every instance folder under <dir>.
           --public-key: trust only this key (PEM), not the one published beside the log
       npm run audit -- replay <dir> [--from <seq | ISO time>] [--to <seq | ISO time>]
  replay   re-evaluates every policy decision against its archived bundle and compares
           result and reasons byte for byte; exit 1 on a mismatch or a missing bundle
       npm run audit -- explain <dir> <decision id> [--json]
  explain  prints one decision and its outcome in words (--json: the two records)
       npm run audit -- query <dir> "<SQL>" [--format table|csv|json]
  query    SQL (DuckDB) over the segment files in place, with the views records, decisions,
           denials, outcomes, records_seen and fields_seen (docs/audit-queries.md);
           exit 1 when DuckDB refuses the SQL`;

/** Runs one CLI invocation; returns the exit status. Output goes through `out`/`err`. */
export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'replay') return replayCommand(rest, out, err);
  if (verb === 'explain') return explainCommand(rest, out, err);
  if (verb === 'query') return queryCommand(rest, out, err);
  if (verb !== 'verify') {
    err(verb === undefined || verb === '--help' || verb === '-h' ? USAGE : `unknown verb "${verb}"\n${USAGE}`);
    return 2;
  }
  let dir: string | undefined;
  let publicKey: KeyObject | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--public-key') {
      const file = rest[++i];
      if (file === undefined) {
        err(`--public-key needs a file\n${USAGE}`);
        return 2;
      }
      try {
        publicKey = createPublicKey(readFileSync(file, 'utf8'));
      } catch (e) {
        err(`--public-key: cannot read a public key from ${file}: ${(e as Error).message}`);
        return 2;
      }
    } else if (dir === undefined && !a.startsWith('--')) {
      dir = a;
    } else {
      err(`unexpected argument "${a}"\n${USAGE}`);
      return 2;
    }
  }
  if (dir === undefined) {
    err(USAGE);
    return 2;
  }
  let result;
  try {
    result = await verifyLog(dir, publicKey ? { publicKey } : {});
  } catch (e) {
    err(`verify: ${(e as Error).message}`);
    return 2;
  }
  if (result.ok) {
    out(summaryLine(result));
    return 0;
  }
  for (const p of result.problems) out(`FAIL ${p.code} ${describeProblem(p)}`);
  return 1;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
