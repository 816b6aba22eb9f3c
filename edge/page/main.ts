/**
 * The privacy-mode page (`/edge`). Two ways in: the plan's `pageUrl` (`/edge#job=<id>&token=<edge token>`,
 * for a job an API client created), or signing in here with an API key, which creates the edge job
 * (`POST /v1/jobs`, mode=edge, no file). Either way the audio is decoded and transcribed in this browser;
 * the only request that carries anything about it is the final `POST /v1/jobs/:id/edge-result` with
 * `{text, segments, language}`. The upload offered on fallback is the user's explicit choice.
 */
import type { FromWorker, PlanFile, ToWorker } from './protocol';

interface Plan {
  jobId: string;
  token: string;
  model: string | null;
  modelFiles: PlanFile[];
  expiresAt: string;
  allowFallback: boolean;
  reason?: string;
  /** the job asked for word timestamps: they are aligned here and sent with the segments */
  wordTimestamps?: boolean;
}

/** What the page measured, for the benchmark and the test (seconds and bytes). */
interface EdgeStats {
  model?: string;
  numThreads?: number;
  crossOriginIsolated: boolean;
  downloadBytes?: number;
  downloadMs?: number;
  sessionMs?: number;
  audioSeconds?: number;
  inferenceMs?: number;
  rtf?: number;
  /** seconds of speech Silero VAD found (what a cloud job of this audio would bill) */
  speechSeconds?: number;
  /** the VAD pass, ms (inside inferenceMs) */
  vadMs?: number;
  /** speech chunks given to the model (0: the model never ran) */
  chunks?: number;
  jobId?: string;
}

const SAMPLE_RATE = 16000;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const stats: EdgeStats = { crossOriginIsolated: self.crossOriginIsolated };
(window as unknown as { edgeStats: EdgeStats }).edgeStats = stats;

let apiKey: string | null = sessionStorage.getItem('fairscribe.apiKey');
let plan: Plan | null = null;
let lastAudio: Blob | null = null;

function setState(state: 'idle' | 'loading' | 'transcribing' | 'sending' | 'done' | 'error' | 'fallback' | 'uploaded', text: string): void {
  document.body.dataset.state = state;
  $('status').textContent = text;
}

/** WASM SIMD support: validates a tiny module that uses a v128 instruction (the wasm-feature-detect probe). */
function wasmSimd(): boolean {
  return WebAssembly.validate(
    new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]),
  );
}

/** What the device can do, as POST /v1/jobs' `capabilities` field wants it. */
function capabilities() {
  const nav = navigator as Navigator & { deviceMemory?: number };
  return {
    wasmSimd: wasmSimd(),
    wasmThreads: self.crossOriginIsolated && typeof SharedArrayBuffer !== 'undefined',
    deviceMemoryGb: nav.deviceMemory ?? null,
    hardwareConcurrency: nav.hardwareConcurrency ?? 1,
  };
}

function showCapabilities(): void {
  const c = capabilities();
  const tag = (ok: boolean, text: string) => `<span class="${ok ? '' : 'no'}">${text}</span>`;
  $('caps').innerHTML =
    tag(c.wasmSimd, `WASM SIMD ${c.wasmSimd ? 'yes' : 'no'}`) +
    tag(c.wasmThreads, `threads ${c.wasmThreads ? 'yes' : 'no'}`) +
    tag(true, `memory ${c.deviceMemoryGb ?? '?'} GB`) +
    tag(true, `${c.hardwareConcurrency} cores`);
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (apiKey) headers.set('authorization', `Bearer ${apiKey}`);
  return fetch(path, { ...init, headers });
}

async function errorText(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    return body.error?.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

async function signIn(): Promise<void> {
  const key = ($('apiKey') as HTMLInputElement).value.trim();
  const res = await fetch('/v1/jobs?limit=1', { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) {
    $('signinStatus').textContent = `sign-in failed: ${await errorText(res)}`;
    return;
  }
  apiKey = key;
  sessionStorage.setItem('fairscribe.apiKey', key);
  $('signinStatus').textContent = 'signed in';
}

/** The plan: from the page URL's fragment (a job an API client created) or a new edge job. */
async function getPlan(): Promise<Plan> {
  if (plan) return plan;
  const frag = new URLSearchParams(location.hash.slice(1));
  const jobId = frag.get('job');
  const token = frag.get('token');
  if (jobId && token) {
    const res = await fetch(`/edge/jobs/${encodeURIComponent(jobId)}/plan`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`this page's link no longer works: ${await errorText(res)}`);
    const p = (await res.json()) as Omit<Plan, 'token'>;
    plan = { ...p, token };
  } else {
    if (!apiKey) throw new Error('sign in with your API key first');
    const form = new FormData();
    form.append('mode', 'edge');
    form.append('allowFallback', String(($('allowFallback') as HTMLInputElement).checked));
    form.append('capabilities', JSON.stringify(capabilities()));
    const model = ($('model') as HTMLSelectElement).value;
    if (model) form.append('model', model);
    const res = await api('/v1/jobs', { method: 'POST', body: form });
    if (!res.ok) throw new Error(`the edge job was refused: ${await errorText(res)}`);
    const body = (await res.json()) as { id: string; edge: Omit<Plan, 'jobId' | 'allowFallback'> & { reason?: string } };
    plan = { jobId: body.id, allowFallback: ($('allowFallback') as HTMLInputElement).checked, ...body.edge };
  }
  stats.jobId = plan.jobId;
  $('jobInfo').textContent = `job ${plan.jobId} · model ${plan.model ?? 'none'} · deadline ${new Date(plan.expiresAt).toLocaleTimeString()}`;
  return plan;
}

/** Decodes any audio the browser can read and resamples it to 16 kHz mono (Web Audio). */
async function decodeAudio(file: Blob): Promise<Float32Array> {
  const ctx = new OfflineAudioContext(1, 1, SAMPLE_RATE);
  const buf = await ctx.decodeAudioData(await file.arrayBuffer());
  const out = new Float32Array(buf.length);
  for (let c = 0; c < buf.numberOfChannels; c++) {
    const ch = buf.getChannelData(c);
    for (let i = 0; i < out.length; i++) out[i] += ch[i] / buf.numberOfChannels;
  }
  return out;
}

function numThreads(): number {
  const forced = Number(new URLSearchParams(location.search).get('threads'));
  if (forced > 0) return forced;
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

function fmt(t: number): string {
  const m = Math.floor(t / 60);
  return `${m}:${(t - m * 60).toFixed(2).padStart(5, '0')}`;
}

function showFallback(reason: string): void {
  if (!plan?.allowFallback || !lastAudio) return;
  $('fallbackReason').textContent = apiKey ? reason : `${reason} Sign in above to upload it instead.`;
  $('fallback').hidden = false;
}

/** Loads the model in the worker and transcribes; resolves with the worker's final message. */
function runWorker(p: Plan, samples: Float32Array): Promise<Extract<FromWorker, { type: 'done' }>> {
  const worker = new Worker(new URL(document.querySelector<HTMLScriptElement>('script[type=module]')!.src.replace('edge-page', 'edge-worker')), {
    type: 'module',
  });
  const send = (m: ToWorker, t: Transferable[] = []) => worker.postMessage(m, t);
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => reject(new Error(e.message || 'the engine worker failed'));
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      switch (m.type) {
        case 'download':
          $('download').textContent = `model ${p.model}: ${(m.loadedBytes / 1e6).toFixed(1)} of ${(m.totalBytes / 1e6).toFixed(1)} MB`;
          break;
        case 'loaded':
          Object.assign(stats, { downloadBytes: m.downloadBytes, downloadMs: m.downloadMs, sessionMs: m.sessionMs, numThreads: m.numThreads });
          $('download').textContent = `model ${p.model}: ${(m.downloadBytes / 1e6).toFixed(1)} MB verified (sha256) · ${m.numThreads} thread(s)`;
          setState('transcribing', 'Transcribing in this browser…');
          send({ type: 'transcribe', samples, language: null, wordTimestamps: plan?.wordTimestamps === true }, [samples.buffer]);
          break;
        case 'window': {
          ($('progress') as HTMLProgressElement).value = m.doneSeconds / m.totalSeconds;
          $('windows').textContent = `${fmt(m.doneSeconds)} of ${fmt(m.totalSeconds)} of speech transcribed`;
          for (const s of m.segments) {
            const li = document.createElement('li');
            li.innerHTML = `<time>${fmt(s.start)} → ${fmt(s.end)}</time>`;
            li.append(document.createTextNode(s.text));
            $('segments').append(li);
          }
          break;
        }
        case 'done':
          worker.terminate();
          resolve(m);
          break;
        case 'error':
          worker.terminate();
          reject(new Error(m.message));
          break;
      }
    };
    send({ type: 'load', model: p.model!, files: p.modelFiles, numThreads: numThreads(), wasmPaths: '/edge/ort/', vadUrl: '/edge/vad/silero-vad.onnx' });
  });
}

async function transcribe(file: Blob): Promise<void> {
  lastAudio = file;
  $('segments').textContent = '';
  $('fallback').hidden = true;
  setState('loading', 'Preparing…');
  try {
    const p = await getPlan();
    if (!p.model) {
      setState('fallback', `This device cannot transcribe in the browser: ${p.reason ?? 'edge mode is not possible'}.`);
      showFallback('The audio can go to the cloud instead (billed as a cloud job).');
      return;
    }
    if (Date.parse(p.expiresAt) < Date.now()) throw new Error('the deadline of this job has passed');
    setState('loading', 'Decoding the audio and loading the model…');
    const samples = await decodeAudio(file);
    stats.audioSeconds = samples.length / SAMPLE_RATE;
    stats.model = p.model;
    const done = await runWorker(p, samples);
    stats.inferenceMs = done.inferenceMs;
    Object.assign(stats, { speechSeconds: done.speechSeconds, vadMs: done.vadMs, chunks: done.chunks });
    stats.rtf = done.inferenceMs / 1000 / stats.audioSeconds;
    setState('sending', 'Sending the text (only the text) to the server…');
    const res = await fetch(`/v1/jobs/${p.jobId}/edge-result`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: done.text, segments: done.segments, language: done.language }),
    });
    if (res.status !== 202) throw new Error(`the server did not take the result: ${await errorText(res)}`);
    setState(
      'done',
      `Done: ${stats.audioSeconds.toFixed(1)} s of audio (${done.speechSeconds.toFixed(1)} s of speech) in ${(done.inferenceMs / 1000).toFixed(1)} s (RTF ${stats.rtf.toFixed(2)}); job ${p.jobId} holds the text, marked as produced in your browser, 0 minutes billed.`,
    );
  } catch (err) {
    setState('error', `Error: ${(err as Error).message}`);
    showFallback('The audio can go to the cloud instead (billed as a cloud job).');
  }
}

/** The user's explicit fallback: the audio goes to the cloud path of the same job (normal admission). */
async function uploadInstead(): Promise<void> {
  if (!plan || !lastAudio) return;
  if (!apiKey) return setState('fallback', 'Sign in with your API key to upload the audio.');
  const form = new FormData();
  form.append('file', lastAudio, lastAudio instanceof File ? lastAudio.name : 'recording.webm');
  const res = await api(`/v1/jobs/${plan.jobId}/audio`, { method: 'PUT', body: form });
  if (res.status === 202) {
    $('fallback').hidden = true;
    setState('uploaded', `Uploaded: job ${plan.jobId} continues in the cloud.`);
  } else {
    setState('fallback', `Upload refused: ${await errorText(res)}`);
  }
}

let recorder: MediaRecorder | null = null;
async function record(): Promise<void> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const parts: Blob[] = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => parts.push(e.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    void transcribe(new Blob(parts, { type: recorder?.mimeType }));
  };
  recorder.start();
  $('record').hidden = true;
  $('stop').hidden = false;
  setState('idle', 'Recording… press Stop when done.');
}

showCapabilities();
// Opened from a plan's pageUrl, the job and its options exist already.
if (new URLSearchParams(location.hash.slice(1)).get('job')) $('newJob').hidden = true;
if (apiKey) $('signinStatus').textContent = 'signed in';
else if (new URLSearchParams(location.hash.slice(1)).get('job')) {
  // Opened from a plan's pageUrl: the edge token suffices; the key is needed only to upload for the cloud fallback.
  $('signinStatus').textContent = 'not needed to transcribe here; only to upload the audio if this device cannot';
}
setState('idle', 'Choose a file or record.');
$('signinBtn').addEventListener('click', () => void signIn());
$('file').addEventListener('change', () => {
  const f = ($('file') as HTMLInputElement).files?.[0];
  if (f) void transcribe(f);
});
$('record').addEventListener('click', () => void record().catch((e: Error) => setState('error', `Microphone: ${e.message}`)));
$('stop').addEventListener('click', () => {
  recorder?.stop();
  $('stop').hidden = true;
  $('record').hidden = false;
});
$('upload').addEventListener('click', () => void uploadInstead());
