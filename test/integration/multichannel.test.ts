/**
 * multichannel=true: each channel of stereo_diarization.wav (one speaker per channel) is transcribed on
 * its own — per-channel WER against the reference texts, no cross-talk — and SRT/WebVTT name the channel.
 */
import * as path from 'node:path';
import { parseSync } from 'subtitle';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { wer } from '../helpers/wer';

const STEREO = path.resolve(__dirname, '../../../shared/audio/stereo_diarization.wav');
const LEFT = 'He began a confused complaint against the wizard, who had vanished behind the curtain on the left.';
const RIGHT = 'The horizon seems extremely distant.';

let app: TestApp;
let key: string;

beforeAll(async () => {
  app = await startTestApp();
  key = (await app.user('premium')).apiKey;
}, 120_000);

afterAll(async () => {
  await app?.stop();
}, 60_000);

const get = (p: string) => fetch(`${app.url}${p}`, { headers: { authorization: `Bearer ${key}` } });

test('each channel transcribed separately; SRT and WebVTT label the channel', async () => {
  const res = await submitFile(app.url, key, STEREO, { multichannel: 'true', language: 'en', model: 'whisper-tiny.en' });
  expect(res.status).toBe(202);
  const job = await waitForJob(app.url, key, ((await res.json()) as { id: string }).id);
  expect(job.status).toBe('completed');
  expect(job.channels.map((c: any) => c.channel)).toEqual([0, 1]);
  const [left, right] = job.channels;
  const wLeft = wer(LEFT, left.text);
  const wRight = wer(RIGHT, right.text);
  process.stderr.write(`[multichannel] left WER ${(wLeft * 100).toFixed(1)}% "${left.text}" | right WER ${(wRight * 100).toFixed(1)}% "${right.text}"\n`);
  expect(wLeft).toBeLessThanOrEqual(0.2);
  expect(wRight).toBeLessThanOrEqual(0.2);
  // No cross-talk: each channel holds only its speaker.
  expect(left.text).not.toMatch(/horizon/i);
  expect(right.text).not.toMatch(/wizard|curtain/i);
  for (const ch of job.channels) for (const s of ch.segments) expect(s.end).toBeLessThanOrEqual(5.0);
  // The job's own segments are both channels in time order, each labelled.
  expect(new Set(job.segments.map((s: any) => s.channel))).toEqual(new Set([0, 1]));
  expect(job.segments.map((s: any) => s.start)).toEqual([...job.segments.map((s: any) => s.start)].sort((a, b) => a - b));
  // Two channels of 5 s each were sent to inference: billed for both, never more.
  expect(job.billedSeconds).toBeGreaterThan(5);
  expect(job.billedSeconds).toBeLessThanOrEqual(10);

  const srt = await (await get(`/v1/jobs/${job.id}/transcript?format=srt`)).text();
  const srtCues = parseSync(srt).filter((n) => n.type === 'cue').map((n) => (n.data as { text: string }).text);
  // Subtitles number a channel as the JSON does (`channel` 0 and 1).
  expect(srtCues.some((t) => t.startsWith('[Channel 0] '))).toBe(true);
  expect(srtCues.some((t) => t.startsWith('[Channel 1] '))).toBe(true);
  expect(srtCues.some((t) => t.startsWith('[Channel 2] '))).toBe(false);
  const vtt = await (await get(`/v1/jobs/${job.id}/transcript?format=vtt`)).text();
  const vttCues = parseSync(vtt).filter((n) => n.type === 'cue').map((n) => (n.data as { text: string }).text);
  expect(vttCues.find((t) => /horizon/i.test(t))).toMatch(new RegExp(`^<v Channel ${right.channel}>`));
  expect(vttCues.find((t) => /wizard/i.test(t))).toMatch(new RegExp(`^<v Channel ${left.channel}>`));
}, 180_000);

test('without multichannel the channels are mixed into one transcript and no `channels` field', async () => {
  const res = await submitFile(app.url, key, STEREO, { language: 'en', model: 'whisper-tiny.en' });
  const job = await waitForJob(app.url, key, ((await res.json()) as { id: string }).id);
  expect(job.status).toBe('completed');
  expect(job.channels).toBeUndefined();
  expect(job.text.length).toBeGreaterThan(0);
}, 180_000);

test('SSE segment events of a multichannel job: chunk counted within its channel (never channel × 100000 + i), with channel', async () => {
  const res = await submitFile(app.url, key, STEREO, { multichannel: 'true', language: 'en', model: 'whisper-tiny.en' });
  const job = await waitForJob(app.url, key, ((await res.json()) as { id: string }).id);
  expect(job.status).toBe('completed');
  // The whole stream again from the start (events live in Postgres), read to its terminal event.
  const body = await (await get(`/v1/jobs/${job.id}/events`)).text();
  const segments = body
    .split('\n\n')
    .filter((block) => /^event: segment$/m.test(block))
    .map((block) => JSON.parse(/^data: (.*)$/m.exec(block)![1]));
  process.stderr.write(`[multichannel] segment events ${JSON.stringify(segments.map((s) => ({ chunk: s.chunk, channel: s.channel })))} chunksTotal ${job.progress.chunksTotal}\n`);
  expect(new Set(segments.map((s) => s.channel))).toEqual(new Set([0, 1]));
  for (const s of segments) {
    expect(Number.isInteger(s.chunk)).toBe(true);
    expect(s.chunk).toBeGreaterThanOrEqual(0);
    expect(s.chunk).toBeLessThan(job.progress.chunksTotal);
  }
  // Each channel's chunks count from 0, as a one-channel job's do.
  for (const c of [0, 1]) expect(Math.min(...segments.filter((s) => s.channel === c).map((s) => s.chunk))).toBe(0);
}, 180_000);
