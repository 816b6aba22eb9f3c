/**
 * `npx tsx bench/log-redaction.ts`: what redaction costs per log line, side by side in one run: pino
 * with no redaction, pino's own `redact` with the paths that say "these names at depth 0..4" (every
 * spelling; the first version of common/log.ts generated them), and common/log.ts (its `scrub`
 * formatter plus the log context). Why common/log.ts does not use pino's `redact`. Not part of CI.
 */
import pino from 'pino';
import { createLogger, REDACTED_FIELDS } from '../common/log';
// The path list the first version generated: every spelling of every name at depth 0..4.
const spell = (n: string) => [...new Set([n, n.toLowerCase(), n[0].toUpperCase() + n.slice(1), n.toUpperCase()])];
const paths: string[] = [];
for (let d = 0; d <= 4; d++) for (const n of REDACTED_FIELDS) for (const s of spell(n)) {
  const key = /^[A-Za-z_$][\w$]*$/.test(s) ? s : `["${s}"]`; const w = '*.'.repeat(d);
  paths.push(key.startsWith('[') ? (d === 0 ? key : `${w.slice(0, -1)}${key}`) : `${w}${key}`);
}
const sink = { write: (_s: string) => undefined };
const viaRedact = pino({ base: undefined, redact: { paths, censor: '[redacted]' } }, sink);
const plain = pino({ base: undefined }, sink);
const ours = createLogger({ component: 'api' });
const orig = process.stderr.write.bind(process.stderr);
(process.stderr as any).write = () => true;
const flat = { jobId: 'x', userId: 'y', method: 'POST', path: '/v1/jobs', status: 202, ms: 12, tier: 'premium', audioSeconds: 11.1 };
const nested = { jobId: 'x', job: { id: 'j', status: 'completed', cost: { a: 1, b: 2 }, fallbacks: [{ chunk: 1, from: 'cpu', to: 'gpu' }] } };
const N = 5000;
// Warm-up, so the JIT has seen each path before it is timed.
for (let i = 0; i < 500; i++) {
  plain.info(flat, 'x');
  viaRedact.info(flat, 'x');
  ours.info('x', flat);
}
const time = (f: () => void) => { const t0 = performance.now(); for (let i = 0; i < N; i++) f(); return ((performance.now() - t0) * 1000) / N; };
const rows: string[] = [];
for (const [name, fields] of [['flat', flat], ['nested', nested]] as const) {
  // Interleaved, twice, to share the machine's noise.
  const r = { none: 0, redact: 0, ours: 0 };
  for (let k = 0; k < 2; k++) {
    r.none += time(() => plain.info(fields, 'x')) / 2;
    r.redact += time(() => viaRedact.info(fields, 'x')) / 2;
    r.ours += time(() => ours.info('x', fields)) / 2;
  }
  rows.push(`${name}: pino no redaction ${r.none.toFixed(1)} µs/line, pino redact (${paths.length} paths) ${r.redact.toFixed(1)} µs, common/log.ts (scrub + context) ${r.ours.toFixed(1)} µs; redact/ours ${(r.redact / r.ours).toFixed(0)}×`);
}
(process.stderr as any).write = orig;
console.log(rows.join('\n'));
