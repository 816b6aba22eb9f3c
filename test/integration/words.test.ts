/**
 * Word timestamps on the real stack (API → Temporal → ffmpeg → Whisper ONNX → Postgres): `wordTimestamps`
 * on POST /v1/jobs gives words in the job JSON, the JSON transcript, SSE `segment` events and captions laid
 * out by word times; the official `openai` client gets OpenAI's verbose_json `words`; multichannel jobs
 * have words per channel; a privacy-mode (edge) result's words are validated like its segments and kept. The inference worker (in this process) observes each aligned window's time in
 * `fairscribe_alignment_seconds{model}`, and nothing there for a job without words.
 *
 * jfk times: the pause after "Americans" runs from about 2.3 s to 3.3 s (the energy restarts at 3.28 s,
 * measured on jfk.wav). On whisper-tiny.en and whisper-base, openai's DTW gives the pause to the
 * next word ("ask" spans it) exactly as faster-whisper 1.1.0 word_timestamps=True does on the same weights
 * (tiny.en: "Americans" 1.76–2.26, "ask" 2.26–3.88 s; ours 1.76–2.32, 2.32–3.88), so the checks are that
 * "Americans" ends before the pause is over and the speech after it ("not") starts after it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import OpenAI from 'openai';
import { parseSync } from 'subtitle';
import { alignmentSeconds } from '../../common/metrics';
import { createEdgeJob, JFK_REFERENCE, postEdgeResult } from '../helpers/edge';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';

const AUDIO = path.resolve(__dirname, '../../../shared/audio');
const JFK = path.join(AUDIO, 'jfk.wav');
/** Tolerance on word times (seconds): openai's DTW on 20 ms encoder positions, as the unit fixture. */
const TOL = 0.3;
const PAUSE = { start: 2.3, end: 3.28 };

let app: TestApp;
let key: string;
beforeAll(async () => {
  app = await startTestApp();
  key = (await app.user('premium')).apiKey;
}, 120_000);
afterAll(() => app?.stop(), 60_000);

const auth = () => ({ authorization: `Bearer ${key}` });
const get = (p: string) => fetch(`${app.url}${p}`, { headers: auth() });

interface Word {
  word: string;
  start: number;
  end: number;
  probability: number;
}
interface Seg {
  start: number;
  end: number;
  text: string;
  words?: Word[];
}

/** Words in order, inside their segments, not overlapping, within the audio; probabilities in [0, 1]. */
function expectSaneWords(segments: Seg[], audioSeconds: number): Word[] {
  const all: Word[] = [];
  let prevEnd = 0;
  for (const s of segments) {
    expect(Array.isArray(s.words)).toBe(true);
    expect(s.words!.length).toBeGreaterThan(0);
    expect(s.words!.map((w) => w.word).join('').trim()).toBe(s.text.trim());
    for (const w of s.words!) {
      expect(w.start).toBeGreaterThanOrEqual(s.start - 1e-9);
      expect(w.end).toBeLessThanOrEqual(s.end + 1e-9);
      expect(w.end).toBeGreaterThanOrEqual(w.start);
      expect(w.start).toBeGreaterThanOrEqual(prevEnd - 1e-9);
      expect(w.end).toBeLessThanOrEqual(audioSeconds + 1e-6);
      expect(w.probability).toBeGreaterThanOrEqual(0);
      expect(w.probability).toBeLessThanOrEqual(1);
      prevEnd = w.end;
      all.push(w);
    }
  }
  return all;
}

/** Reads an SSE stream to its end and returns its events. */
async function readEvents(res: Response): Promise<{ event: string; data: any }[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((block) => Object.fromEntries(block.split('\n').filter((l) => l && !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])))
    .filter((f) => f.event)
    .map((f) => ({ event: f.event, data: JSON.parse(f.data) }));
}

const norm = (w: string) => w.toLowerCase().replace(/[^a-z]/g, '');

/** `fairscribe_alignment_seconds{model}`: observations and their sum so far (the workers share this process). */
async function alignmentMetric(model: string): Promise<{ count: number; sum: number }> {
  const values = (await alignmentSeconds.get()).values.filter((v) => v.labels.model === model);
  const of = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return { count: of('fairscribe_alignment_seconds_count'), sum: of('fairscribe_alignment_seconds_sum') };
}

test('jfk with wordTimestamps: words in the job JSON, JSON transcript, SSE segment events and 42×2 captions; the alignment metric', async () => {
  const before = await alignmentMetric('whisper-tiny.en');
  const res = await submitFile(app.url, key, JFK, { model: 'whisper-tiny.en', wordTimestamps: 'true' });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const events = readEvents(await get(`/v1/jobs/${id}/events`));
  const job = await waitForJob(app.url, key, id);
  expect(job.status).toBe('completed');
  const words = expectSaneWords(job.segments, job.audioSeconds);
  const spoken = words.map((w) => norm(w.word));
  expect(spoken.slice(0, 6)).toEqual(['and', 'so', 'my', 'fellow', 'americans', 'ask']);
  const americans = words[spoken.indexOf('americans')];
  const not = words[spoken.indexOf('not')];
  expect(americans.end).toBeLessThanOrEqual(PAUSE.start + TOL);
  expect(not.start).toBeGreaterThanOrEqual(PAUSE.end - TOL);
  expect(words[spoken.indexOf('ask')].start).toBeGreaterThanOrEqual(americans.end);
  expect(words[words.length - 1].end).toBeGreaterThan(10);
  // jfk (11 s, one chunk) is one window with text: one alignment observed, a positive time
  const after = await alignmentMetric('whisper-tiny.en');
  expect(after.count - before.count).toBeGreaterThanOrEqual(1);
  expect(after.sum).toBeGreaterThan(before.sum);

  // SSE: segment events carry the same words, on the job's time line
  const segEvents = (await events).filter((e) => e.event === 'segment');
  expect(segEvents.length).toBeGreaterThan(0);
  const sseWords: Word[] = segEvents.flatMap((e) => e.data.words);
  expect(sseWords.map((w) => norm(w.word))).toEqual(spoken);
  sseWords.forEach((w, i) => expect(Math.abs(w.start - words[i].start)).toBeLessThanOrEqual(0.011));

  const tj = (await (await get(`/v1/jobs/${id}/transcript?format=json`)).json()) as { segments: Seg[] };
  expect(tj.segments.flatMap((s) => s.words!)).toEqual(words);

  const srtRes = await get(`/v1/jobs/${id}/transcript?format=srt&maxLineWidth=42&maxLineCount=2`);
  expect(srtRes.status).toBe(200);
  const cues = parseSync(await srtRes.text())
    .filter((n) => n.type === 'cue')
    .map((n) => n.data as { start: number; end: number; text: string });
  expect(cues.length).toBeGreaterThanOrEqual(2);
  for (const c of cues) {
    const lines = c.text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(2);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(42);
  }
  expect(cues[0].start).toBe(Math.round(words[0].start * 1000));
  expect(cues[cues.length - 1].end).toBe(Math.round(words[words.length - 1].end * 1000));
  const vtt = await get(`/v1/jobs/${id}/transcript?format=vtt&maxLineWidth=42&maxLineCount=2`);
  expect((await vtt.text()).startsWith('WEBVTT')).toBe(true);
  const bad = await get(`/v1/jobs/${id}/transcript?format=srt&maxLineWidth=0`);
  expect(bad.status).toBe(400);
}, 180_000);

test('a job without wordTimestamps has no words and no alignment time; captions by line width answer 409 words_not_available', async () => {
  const before = await alignmentMetric('whisper-tiny.en');
  const res = await submitFile(app.url, key, JFK, { model: 'whisper-tiny.en' });
  const job = await waitForJob(app.url, key, ((await res.json()) as { id: string }).id);
  expect(job.status).toBe('completed');
  for (const s of job.segments) expect(s).not.toHaveProperty('words');
  expect(await alignmentMetric('whisper-tiny.en')).toEqual(before);
  const r = await get(`/v1/jobs/${job.id}/transcript?format=srt&maxLineWidth=42&maxLineCount=2`);
  expect(r.status).toBe(409);
  expect(((await r.json()) as any).error.code).toBe('words_not_available');
  // plain SRT still works
  expect((await get(`/v1/jobs/${job.id}/transcript?format=srt`)).status).toBe(200);
}, 120_000);

test("the official openai client: timestamp_granularities ['word', 'segment'] gets both; include[]=logprobs is refused by name", async () => {
  const client = new OpenAI({ apiKey: key, baseURL: `${app.url}/v1`, maxRetries: 0 });
  const r = await client.audio.transcriptions.create({
    file: fs.createReadStream(JFK),
    model: 'whisper-tiny.en',
    response_format: 'verbose_json',
    timestamp_granularities: ['word', 'segment'],
  });
  expect(r.segments!.length).toBeGreaterThan(0);
  expect(r.words!.length).toBeGreaterThan(15);
  let prev = 0;
  for (const w of r.words!) {
    expect(Object.keys(w).sort()).toEqual(['end', 'start', 'word']);
    expect(w.word).toBe(w.word.trim());
    expect(w.start).toBeGreaterThanOrEqual(prev - 1e-9);
    prev = w.end;
  }
  expect(r.words!.map((w) => norm(w.word)).slice(0, 5)).toEqual(['and', 'so', 'my', 'fellow', 'americans']);

  const wordsOnly = await client.audio.transcriptions.create({
    file: fs.createReadStream(JFK),
    model: 'whisper-tiny.en',
    response_format: 'verbose_json',
    timestamp_granularities: ['word'],
  });
  expect(wordsOnly.words!.length).toBe(r.words!.length);
  expect(wordsOnly.segments).toBeUndefined();

  await expect(
    client.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-tiny.en', include: ['logprobs'] }),
  ).rejects.toMatchObject({ status: 400, error: { code: 'invalid_request', param: 'include[]' } });
  await expect(
    client.audio.transcriptions.create({ file: fs.createReadStream(JFK), model: 'whisper-tiny.en', timestamp_granularities: ['word'] }),
  ).rejects.toMatchObject({ status: 400, error: { param: 'timestamp_granularities[]' } });
}, 180_000);

test('a multichannel job has words per channel', async () => {
  const res = await submitFile(app.url, key, path.join(AUDIO, 'stereo_diarization.wav'), {
    multichannel: 'true',
    language: 'en',
    model: 'whisper-tiny.en',
    wordTimestamps: 'true',
  });
  const job = await waitForJob(app.url, key, ((await res.json()) as { id: string }).id);
  expect(job.status).toBe('completed');
  expect(job.channels).toHaveLength(2);
  for (const ch of job.channels) expectSaneWords(ch.segments, job.audioSeconds);
  const left = job.channels[0].segments.flatMap((s: Seg) => s.words!.map((w) => norm(w.word)));
  const right = job.channels[1].segments.flatMap((s: Seg) => s.words!.map((w) => norm(w.word)));
  expect(left).toContain('wizard');
  expect(right).toContain('horizon');
  for (const s of job.segments) expect(Array.isArray(s.words)).toBe(true);
}, 180_000);

test("an edge result's words: refused when one leaves its segment or overlaps the next, kept in the job and its JSON transcript when valid", async () => {
  const a = await createEdgeJob(app.url, key, { wordTimestamps: 'true' });
  const texts = JFK_REFERENCE.split(' ');
  // jfk's words 0.5 s apart in one segment, as the page's engine would send them (its own words are the browser test's)
  const words = texts.map((t, i) => ({ word: ` ${t}`, start: i * 0.5, end: i * 0.5 + 0.45, probability: 0.9 }));
  const result = (ws: typeof words) => ({ text: JFK_REFERENCE, language: 'en', segments: [{ start: 0, end: 11, text: ` ${JFK_REFERENCE}`, words: ws }] });
  const outside = await postEdgeResult(app.url, a.id, a.edge.token, result(words.map((w, i) => (i === words.length - 1 ? { ...w, end: 11.5 } : w))));
  expect(outside.status).toBe(400);
  expect(((await outside.json()) as any).error.code).toBe('invalid_request');
  const overlapping = await postEdgeResult(app.url, a.id, a.edge.token, result(words.map((w, i) => (i === 1 ? { ...w, start: 0.2 } : w))));
  expect(overlapping.status).toBe(400);
  // the refusals did not use the token: the valid result is taken
  expect((await postEdgeResult(app.url, a.id, a.edge.token, result(words))).status).toBe(202);
  const job = await waitForJob(app.url, key, a.id);
  expect(job).toMatchObject({ status: 'completed', producedBy: 'edge' });
  expect(job.segments.flatMap((s: Seg) => s.words)).toEqual(words);
  const tj = (await (await get(`/v1/jobs/${a.id}/transcript?format=json`)).json()) as { segments: Seg[] };
  expect(tj.segments.flatMap((s) => s.words!)).toEqual(words);
}, 120_000);
