/**
 * Privacy mode without a browser (the browser's part is test/integration/edge-browser.test.ts): the
 * plan, the edge token's rules (single use, one job, until the deadline, a size bound), the workflow
 * waiting for the result, billing 0 with one concurrency slot held, and the deadline with and without
 * fallback to the cloud — on the real Temporal, Postgres, Redis, ffmpeg and model.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Tier } from '../../common/constants';
import { DEFAULT_TIERS } from '../../common/tiers';
import { utcDay } from '../../quota/keys';
import { startTestApp, waitForJob, type TestApp } from '../helpers/harness';
import { createEdgeJob, getJob, JFK_REFERENCE, postEdgeJob, postEdgeResult, putAudio, waitUntil } from '../helpers/edge';
import { wer } from '../helpers/wer';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
/** Short enough for the expiry tests to wait for, long enough for a result posted at once. */
const DEADLINE_S = 8;
const UPLOAD_DEADLINE_S = 20;
const RESULT_MAX_BYTES = 20_000;
/** free: 5 s a day (the jfk fallback upload exceeds it), one job at a time */
const FREE_DAILY_S = 5;

let app: TestApp;
let tmp: string;
let jfk: string;

const result = {
  text: JFK_REFERENCE,
  segments: [{ start: 0, end: 10.5, text: JFK_REFERENCE }],
  language: 'en',
};

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-edge-'));
  jfk = path.join(tmp, 'jfk.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.flac'), '-ac', '1', '-b:a', '32k', jfk]);
  const tiers = structuredClone(DEFAULT_TIERS);
  for (const t of Object.keys(tiers) as Tier[]) tiers[t].requestsPerMinute = 100_000;
  tiers.free.dailySeconds = FREE_DAILY_S;
  fs.writeFileSync(path.join(tmp, 'tiers.json'), JSON.stringify(tiers));
  app = await startTestApp({
    EDGE_DEADLINE_S: String(DEADLINE_S),
    EDGE_UPLOAD_DEADLINE_S: String(UPLOAD_DEADLINE_S),
    EDGE_RESULT_MAX_BYTES: String(RESULT_MAX_BYTES),
    FAIRSCRIBE_TIERS_FILE: path.join(tmp, 'tiers.json'),
  });
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function usage(userId: string) {
  return app.deps.quota.usage(userId, utcDay());
}

async function redisActive(userId: string): Promise<number> {
  return (await app.deps.quota.counters(userId, utcDay())).activeJobs;
}

test('the plan: model by capability, files with sha256 and year-long caching, an isolated page', async () => {
  const u = await app.user('premium');
  const caps = (c: object) => ({ capabilities: JSON.stringify({ wasmSimd: true, wasmThreads: true, deviceMemoryGb: 8, ...c }) });
  const big = await createEdgeJob(app.url, u.apiKey, caps({}));
  expect(big.edge.model).toBe('whisper-base');
  const small = await createEdgeJob(app.url, u.apiKey, caps({ deviceMemoryGb: 2 }));
  expect(small.edge.model).toBe('whisper-tiny.en');
  expect(small.edge).toEqual({
    token: expect.stringMatching(/^fset_/),
    expiresAt: expect.any(String),
    model: 'whisper-tiny.en',
    modelFiles: expect.any(Array),
    pageUrl: `${app.url}/edge#job=${small.id}&token=${small.edge.token}`,
  });
  const left = Date.parse(small.edge.expiresAt) - Date.now();
  expect(left).toBeGreaterThan(0);
  expect(left).toBeLessThanOrEqual(DEADLINE_S * 1000);
  // The plan read back by token (the page opened from pageUrl) does not use the token; read at once,
  // within the test's short deadline.
  const plan = await fetch(`${app.url}/edge/jobs/${small.id}/plan`, { headers: { authorization: `Bearer ${small.edge.token}` } });
  expect(plan.status).toBe(200);
  expect(await plan.json()).toMatchObject({ jobId: small.id, model: 'whisper-tiny.en', modelFiles: small.edge.modelFiles });
  // Not possible: no SIMD → 422 without fallback (nothing reserved), a plan without a model with it.
  const noSimd = await postEdgeJob(app.url, u.apiKey, caps({ wasmSimd: false }));
  expect(noSimd.status).toBe(422);
  expect(((await noSimd.json()) as any).error.code).toBe('edge_not_possible');
  // A partial report: what is missing is unknown, not a bad request (no SIMD still means no edge).
  const partial = await postEdgeJob(app.url, u.apiKey, { capabilities: JSON.stringify({ wasmSimd: false }) });
  expect({ status: partial.status, code: ((await partial.json()) as any).error?.code }).toEqual({ status: 422, code: 'edge_not_possible' });
  const memoryOnly = await createEdgeJob(app.url, u.apiKey, { capabilities: JSON.stringify({ deviceMemoryGb: 8 }) });
  expect(memoryOnly.edge.model).toBe('whisper-base');
  const fallbackOnly = await createEdgeJob(app.url, u.apiKey, { ...caps({ wasmSimd: false }), allowFallback: 'true' });
  expect(fallbackOnly.edge).toMatchObject({ model: null, modelFiles: [], reason: expect.stringMatching(/SIMD/) });
  // A file with mode=edge is refused: the audio stays in the browser.
  const form = new FormData();
  form.append('mode', 'edge');
  form.append('file', new Blob([fs.readFileSync(jfk)]), 'jfk.mp3');
  const withFile = await fetch(`${app.url}/v1/jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${u.apiKey}` } });
  expect(withFile.status).toBe(400);

  // Every model file is what the plan says, and may be cached for a year.
  for (const f of small.edge.modelFiles) {
    const res = await fetch(f.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const buf = Buffer.from(await res.arrayBuffer());
    expect({ url: f.url, bytes: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') }).toEqual({ url: f.url, bytes: f.bytes, sha256: f.sha256 });
  }
  expect(small.edge.modelFiles.map((f) => new URL(f.url).pathname.split('/whisper-tiny.en/')[1]).sort()).toEqual(
    ['config.json', 'generation_config.json', 'onnx/decoder_model_merged_quantized.onnx', 'onnx/encoder_model_quantized.onnx', 'tokenizer.json', 'tokenizer_config.json'],
  );
  expect((await fetch(`${app.url}/edge/models/whisper-tiny.en/..%2F..%2FPROVENANCE.md`)).status).toBe(404);

  const page = await fetch(`${app.url}/edge`);
  expect(page.status).toBe(200);
  expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
  expect(page.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  const wasm = await fetch(`${app.url}/edge/ort/ort-wasm-simd-threaded.wasm`, { method: 'HEAD' });
  expect(wasm.headers.get('content-type')).toBe('application/wasm');

  for (const j of [big, small, fallbackOnly, memoryOnly]) await fetch(`${app.url}/v1/jobs/${j.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${u.apiKey}` } });
  // On a slow machine a job may have reached its short deadline first: either way it ended and let go.
  for (const j of [big, small, fallbackOnly, memoryOnly]) expect(['cancelled', 'expired']).toContain((await waitForJob(app.url, u.apiKey, j.id)).status);
  expect((await usage(u.userId)).activeJobs).toBe(0);
}, 120_000);

test('a result completes the job: producedBy edge, 0 s billed, the slot held until then; the token works once, for its job, within bounds', async () => {
  const u = await app.user('free');
  const a = await createEdgeJob(app.url, u.apiKey);
  // The edge job holds the free tier's one slot: 0 seconds, but a slot.
  expect(await usage(u.userId)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 1 });
  expect(await redisActive(u.userId)).toBe(1);
  const second = await postEdgeJob(app.url, u.apiKey);
  expect(second.status).toBe(429);
  expect(((await second.json()) as any).error.code).toBe('concurrency_limit');
  const v = await app.user('premium');
  const b = await createEdgeJob(app.url, v.apiKey);

  // Tampering, none of which uses the token.
  const oversized = { ...result, segments: Array.from({ length: 400 }, (_, i) => ({ start: i, end: i + 1, text: 'x'.repeat(60) })) };
  const big = await postEdgeResult(app.url, a.id, a.edge.token, oversized);
  expect(big.status).toBe(413);
  expect(((await big.json()) as any).error).toMatchObject({ code: 'edge_result_rejected', limit: RESULT_MAX_BYTES });
  expect((await postEdgeResult(app.url, a.id, `fset_${crypto.randomBytes(32).toString('base64url')}`, result)).status).toBe(401);
  expect((await postEdgeResult(app.url, a.id, u.apiKey, result)).status).toBe(401); // an API key is not an edge token
  const wrongJob = await postEdgeResult(app.url, a.id, b.edge.token, result); // B's token on A's job
  expect(wrongJob.status).toBe(409);
  expect(((await wrongJob.json()) as any).error.code).toBe('edge_result_rejected');
  const extra = await postEdgeResult(app.url, a.id, a.edge.token, { ...result, audio: 'AAAA' });
  expect(extra.status).toBe(400); // only {text, segments, language}
  expect((await postEdgeResult(app.url, a.id, a.edge.token, { ...result, language: 'de' })).status).toBe(400); // tiny.en is English-only
  // A language Whisper does not have (the cloud path refuses it on POST /v1/jobs): a multilingual plan took it
  // and its job showed "zz" (A's English-only plan refuses any language but en).
  const c = await createEdgeJob(app.url, v.apiKey, { capabilities: JSON.stringify({ wasmSimd: true, wasmThreads: true, deviceMemoryGb: 8 }) });
  expect(c.edge.model).toBe('whisper-base');
  const zz = await postEdgeResult(app.url, c.id, c.edge.token, { ...result, language: 'zz' });
  expect(zz.status).toBe(400);
  expect(((await zz.json()) as any).error).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/^language: must be a language Whisper supports/) });
  // Times no audio of this tier can have (free: 30 min at most): captions would read "NaN:NaN:NaN,NaN".
  for (const end of [1e308, DEFAULT_TIERS.free.maxAudioSeconds + 1]) {
    const late = await postEdgeResult(app.url, a.id, a.edge.token, { ...result, segments: [{ start: 0, end, text: JFK_REFERENCE }] });
    expect(late.status).toBe(400);
    expect(((await late.json()) as any).error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/^segments\.0\.end: .* s is past the longest audio the free tier admits \(1800 s\)$/),
    });
  }

  const ok = await postEdgeResult(app.url, a.id, a.edge.token, result);
  expect(ok.status).toBe(202);
  const job = await waitForJob(app.url, u.apiKey, a.id);
  expect(job).toMatchObject({
    status: 'completed',
    mode: 'edge',
    producedBy: 'edge',
    billedSeconds: 0,
    language: 'en',
    text: JFK_REFERENCE,
    segments: result.segments,
    edge: { model: 'whisper-tiny.en', outcome: 'edge', billing: expect.stringMatching(/0 seconds billed/) },
  });
  expect(await usage(u.userId)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
  expect(await redisActive(u.userId)).toBe(0);

  const reused = await postEdgeResult(app.url, a.id, a.edge.token, result);
  expect(reused.status).toBe(409);
  expect(((await reused.json()) as any).error).toMatchObject({ code: 'edge_result_rejected', message: expect.stringMatching(/already used/) });
  // The job keeps the first result.
  expect((await getJob(app.url, u.apiKey, a.id)).text).toBe(JFK_REFERENCE);
  for (const other of [b, c]) {
    await fetch(`${app.url}/v1/jobs/${other.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${v.apiKey}` } });
    await waitForJob(app.url, v.apiKey, other.id);
  }
}, 120_000);

test('deadline without fallback: expired with its reason, slot released, a late result refused', async () => {
  const u = await app.user('standard');
  const a = await createEdgeJob(app.url, u.apiKey);
  expect((await usage(u.userId)).activeJobs).toBe(1);
  const job = await waitForJob(app.url, u.apiKey, a.id, (DEADLINE_S + 30) * 1000);
  expect(job).toMatchObject({ status: 'expired', error: { code: 'expired', message: expect.stringMatching(/deadline.*does not allow fallback/) }, edge: { outcome: 'expired' } });
  expect(await usage(u.userId)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
  expect(await redisActive(u.userId)).toBe(0);
  const late = await postEdgeResult(app.url, a.id, a.edge.token, result);
  expect(late.status).toBe(409);
  expect(((await late.json()) as any).error.code).toBe('edge_result_rejected');
  expect((await putAudio(app.url, u.apiKey, a.id, jfk)).status).toBe(409);
}, 120_000);

test('deadline with fallback: the job waits for the audio, the upload is admitted (429 over quota) and finishes it in the cloud', async () => {
  const premium = await app.user('premium');
  const free = await app.user('free');
  const [a, f] = await Promise.all([
    createEdgeJob(app.url, premium.apiKey, { allowFallback: 'true' }),
    createEdgeJob(app.url, free.apiKey, { allowFallback: 'true' }),
  ]);
  // Before the deadline the browser may still answer; an upload may come early too (the user's choice).
  const waiting = await waitUntil(app.url, premium.apiKey, a.id, (j) => j.edge?.outcome === 'awaiting-audio', (DEADLINE_S + 30) * 1000);
  expect(waiting.status).toBe('queued');
  expect((await postEdgeResult(app.url, a.id, a.edge.token, result)).status).toBe(409); // past the deadline
  // Free: 5 s a day; jfk is 11 s → normal admission refuses it, and the job still waits.
  await waitUntil(app.url, free.apiKey, f.id, (j) => j.edge?.outcome === 'awaiting-audio', 30_000);
  const refused = await putAudio(app.url, free.apiKey, f.id, jfk);
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).toBeTruthy();
  expect(((await refused.json()) as any).error).toMatchObject({ code: 'quota_exceeded', limit: FREE_DAILY_S });
  expect((await usage(free.userId)).reservedSeconds).toBe(0);
  expect((await getJob(app.url, free.apiKey, f.id)).status).toBe('queued');

  // Another user's upload into A's job: 404, as for any job route.
  expect((await putAudio(app.url, free.apiKey, a.id, jfk)).status).toBe(404);
  const up = await putAudio(app.url, premium.apiKey, a.id, jfk);
  expect(up.status).toBe(202);
  expect((await putAudio(app.url, premium.apiKey, a.id, jfk)).status).toBe(409); // once
  const job = await waitForJob(app.url, premium.apiKey, a.id);
  expect(job).toMatchObject({ status: 'completed', mode: 'edge', producedBy: 'server', edge: { outcome: 'cloud' } });
  expect(job.billedSeconds).toBeGreaterThan(5);
  expect(wer(JFK_REFERENCE, job.text)).toBeLessThanOrEqual(0.1);
  const used = await usage(premium.userId);
  expect(used).toMatchObject({ billedSeconds: job.billedSeconds, activeJobs: 0 });

  // The free job never got its audio: expired after the upload deadline, slot released.
  const expired = await waitForJob(app.url, free.apiKey, f.id, (UPLOAD_DEADLINE_S + 30) * 1000);
  expect(expired).toMatchObject({ status: 'expired', error: { code: 'expired', message: expect.stringMatching(/no audio was uploaded/) } });
  expect(await usage(free.userId)).toEqual({ reservedSeconds: 0, billedSeconds: 0, activeJobs: 0 });
}, 180_000);
