/**
 * Metrics end to end: a real Prometheus scrapes the API's /metrics, a worker's METRICS_PORT listener and
 * the Temporal SDK's exporter (TEMPORAL_METRICS_PORT) every second while two jobs of two tiers run; its
 * HTTP API then shows TTFR and queue wait labelled by tier, and every query of the provisioned Grafana
 * dashboard runs without error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serveMetrics, type MetricsServer } from '../../common/metrics-server';
import { freePort } from '../../infra/services';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { startPrometheus, type TestPrometheus } from '../helpers/prometheus';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const DASHBOARD = path.resolve(__dirname, '../../infra/grafana/dashboards/fairscribe.json');

let app: TestApp;
let workerMetrics: MetricsServer;
let prom: TestPrometheus;
let sdkPort: number;

beforeAll(async () => {
  sdkPort = await freePort();
  app = await startTestApp({ TEMPORAL_METRICS_PORT: String(sdkPort) });
  // What a worker entry point (workers/main.ts) opens on METRICS_PORT; here the workers share the test process.
  workerMetrics = await serveMetrics('127.0.0.1', 0);
  prom = await startPrometheus({
    'fairscribe-api': [new URL(app.url).host],
    'fairscribe-workers': [`127.0.0.1:${workerMetrics.port}`],
    'temporal-sdk': [`127.0.0.1:${sdkPort}`],
  });
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await workerMetrics?.close();
  await app?.stop();
}, 60_000);

/** Polls an instant query until `ok` holds for its result (scrapes land every second). */
async function eventually(expr: string, ok: (r: Awaited<ReturnType<TestPrometheus['query']>>) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await prom.query(expr);
    if (ok(r)) return r;
    if (Date.now() > deadline) throw new Error(`${expr} never satisfied; last result ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

const byTier = (r: { metric: Record<string, string>; value: [number, string] }[]) =>
  Object.fromEntries(r.map((s) => [s.metric.tier, Number(s.value[1])]));

test('the API serves /metrics without a key, and the worker listener only /metrics', async () => {
  const res = await fetch(`${app.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  for (const name of ['fairscribe_ttfr_seconds', 'fairscribe_queue_wait_seconds', 'fairscribe_cost_per_audio_minute', 'fairscribe_revenue_per_gpu_hour']) {
    expect(text).toContain(`# TYPE ${name} `);
  }
  expect(text).toMatch(/fairscribe_cost_per_audio_minute\{backend="gpu-spot"\} 0\.02/);
  expect((await fetch(workerMetrics.url.replace('/metrics', '/other'))).status).toBe(404);
});

test('two jobs of two tiers: Prometheus holds TTFR and queue wait by tier, business and SDK metrics', async () => {
  const free = await app.user('free');
  const premium = await app.user('premium');
  const jfk = path.join(AUDIO, 'jfk.flac');
  const submitted = await Promise.all([submitFile(app.url, free.apiKey, jfk), submitFile(app.url, premium.apiKey, jfk)]);
  const ids = await Promise.all(submitted.map(async (r) => ((await r.json()) as { id: string }).id));
  expect(submitted.map((r) => r.status)).toEqual([202, 202]);
  // Wait on the database: polling the API every 250 ms would spend the free tier's 60 requests a minute.
  const deadline = Date.now() + 180_000;
  for (;;) {
    const { rows } = await app.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')`, [ids]);
    if (rows[0].n === 2 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const jobs = await Promise.all([waitForJob(app.url, free.apiKey, ids[0]), waitForJob(app.url, premium.apiKey, ids[1])]);
  expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);

  const ttfr = await eventually('sum by (tier) (fairscribe_ttfr_seconds_count{job="fairscribe-workers"})', (r) => r.length === 2);
  expect(byTier(ttfr)).toEqual({ free: 1, premium: 1 });
  const ttfrSum = byTier(await prom.query('sum by (tier) (fairscribe_ttfr_seconds_sum{job="fairscribe-workers"})'));
  // Job created → first segment: a real, positive duration, below the whole test's run time.
  for (const tier of ['free', 'premium']) {
    expect(ttfrSum[tier]).toBeGreaterThan(0);
    expect(ttfrSum[tier]).toBeLessThan(120);
  }

  const wait = byTier(await prom.query('sum by (tier) (fairscribe_queue_wait_seconds_count{job="fairscribe-workers", queue="transcribe-cpu"})'));
  expect(wait.free).toBeGreaterThanOrEqual(1);
  expect(wait.premium).toBeGreaterThanOrEqual(1);
  const waitSum = byTier(await prom.query('sum by (tier) (fairscribe_queue_wait_seconds_sum{job="fairscribe-workers"})'));
  expect(waitSum.free).toBeGreaterThan(0);
  expect(waitSum.premium).toBeGreaterThan(0);

  // Counted when the terminal event is written, a moment after the job reads completed.
  const done = await eventually('sum by (tier) (fairscribe_jobs_total{job="fairscribe-api", status="completed"})', (r) => r.length === 2);
  expect(byTier(done)).toEqual({ free: 1, premium: 1 });
  const billed = byTier(await prom.query('sum by (tier) (fairscribe_billed_seconds_total{job="fairscribe-api", backend="cpu"})'));
  expect(billed.free).toBe(jobs[0].billedSeconds);
  expect(billed.premium).toBe(jobs[1].billedSeconds);
  // The API's polled gauges: one user of each tier, today's quota partly used by the free user.
  await eventually('fairscribe_users{job="fairscribe-api", tier="free"}', (r) => r.length === 1 && Number(r[0].value[1]) === 1);
  const quota = byTier(await prom.query('fairscribe_quota_utilisation_ratio{job="fairscribe-api"}'));
  expect(quota.free).toBeCloseTo(jobs[0].billedSeconds / (30 * 60), 3);
  const rtf = await prom.query('sum(fairscribe_inference_rtf_count{queue="transcribe-cpu", model="whisper-tiny.en"})');
  expect(Number(rtf[0].value[1])).toBeGreaterThanOrEqual(2);

  // The Temporal SDK's own exporter, scraped beside ours.
  const sdk = await eventually('count({job="temporal-sdk", __name__=~"temporal_.+"})', (r) => r.length === 1 && Number(r[0].value[1]) > 0);
  expect(Number(sdk[0].value[1])).toBeGreaterThan(5);
}, 240_000);

test('every dashboard query runs against Prometheus without error, and the variables find values', async () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const rows = dash.panels.filter((p: any) => p.type === 'row').map((p: any) => p.title);
  expect(rows).toEqual(['User experience', 'System efficiency', 'Business']);
  const exprs: string[] = dash.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
  expect(exprs.length).toBeGreaterThanOrEqual(15);
  // What Grafana substitutes: $__rate_interval (≥ 4 scrape intervals) and the "All" value of each variable.
  const substitute = (e: string) => e.replaceAll('$__rate_interval', '15s').replace(/\$(tier|queue|model)\b/g, '.*');
  // Rates need two samples of a series in their window: poll until every panel but the GPU one (no GPU
  // here: its series is absent) has data; every query must succeed on every round.
  const deadline = Date.now() + 20_000;
  let empty: string[] = [];
  for (;;) {
    empty = [];
    for (const e of exprs) if ((await prom.query(substitute(e))).length === 0) empty.push(e);
    if (empty.length <= 1 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  expect(empty.filter((e) => !e.includes('fairscribe_gpu_utilisation_ratio'))).toEqual([]);
  for (const v of dash.templating.list.filter((x: any) => x.type === 'query')) {
    const m = /^label_values\((\w+), (\w+)\)$/.exec(v.query.query);
    expect(m).not.toBeNull();
    const res = await fetch(`${prom.url}/api/v1/label/${m![2]}/values?match[]=${m![1]}`);
    const body = (await res.json()) as { data: string[] };
    expect(body.data.length).toBeGreaterThan(0);
  }
}, 60_000);
