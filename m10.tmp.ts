import { openDecisionLog } from './audit/decision-log.ts';
import { mkdtemp } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
const dir = await mkdtemp('/tmp/gwx-');
const syncs: number[] = []; const writes: number[] = []; const sizes: number[] = [];
const log = await openDecisionLog({ dir, durability: 'fsync', instanceId: 'b',
  write: async (fh, data) => { const t = performance.now(); sizes.push(data.length); await fh.write(data); writes.push(performance.now() - t); },
  sync: async (fh) => { const t = performance.now(); await fh.datasync(); syncs.push(performance.now() - t); } });
const rec = (i: number) => ({ kind: 'decision', v: 1, decision_id: 'x' + i, timestamp: new Date().toISOString(), pad: { a: 'y'.repeat(300), b: ['x'.repeat(300), 'z'.repeat(300)], c: { d: 1, e: true } } }) as any;
const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
const waits: number[] = []; const rate = Number(process.argv[2] ?? 50000) / 1000; const start = performance.now(); let issued = 0;
await new Promise<void>((res) => { const turn = () => { const now = performance.now(); if (now - start > 3000) return res(); const due = Math.floor((now - start) * rate); while (issued < due) { const dueAt = start + issued / rate; issued++; log.append(rec(issued)).then(() => waits.push(performance.now() - dueAt)); } setImmediate(turn); }; turn(); });
await log.close(); h.disable();
const q = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(p * s.length)]!.toFixed(2); };
console.log('waits p50', q(waits, .5), 'p99', q(waits, .99), 'max', q(waits, .9999));
console.log('sync n', syncs.length, 'p50', q(syncs, .5), 'p99', q(syncs, .99), 'max', Math.max(...syncs).toFixed(2));
console.log('write p50', q(writes, .5), 'p99', q(writes, .99), 'max', Math.max(...writes).toFixed(2), 'batch bytes p50', q(sizes, .5), 'p99', q(sizes,.99));
console.log('loop delay p50', (h.percentile(50) / 1e6).toFixed(2), 'p99', (h.percentile(99) / 1e6).toFixed(2), 'max', (h.max / 1e6).toFixed(2));
