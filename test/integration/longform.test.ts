/**
 * Long-form audio end to end on the real stack: over a minute of espeak-ng speech, cut into ≥ 3 chunks,
 * transcribed chunk by chunk and merged. Two variants of the same twelve sentences:
 *  (a) one second of silence between sentences, so every cut falls in a pause;
 *  (b) the sentences run together with no pause at all, so the chunks overlap by 3 s inside continuous
 *      speech and the merge must keep each word of an overlap once (audio/transcript.ts).
 * Each sentence must come out once, in order: a sentence doubled or dropped at a chunk cut fails.
 * The audio is made at test time in a temporary folder; none is committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadSileroVad, SileroVadStream } from '../../audio/silero-vad';
import { planSpeechChunks } from '../../audio/speech-spans';
import { submitAndWait } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';
import { parseWavPcm16Mono } from '../helpers/wav';
import { ESPEAK_SENTENCES } from '../helpers/sentences';
import { normalise } from '../helpers/wer';

/**
 * Twelve distinct sentences that whisper-tiny.en transcribes from espeak-ng's default voice with few
 * errors, in an order measured to stay under 7% word errors per sentence in both variants (chosen from
 * 25 candidates; tiny.en misreads espeak's "the beach" or "lighthouse keeper" in some contexts). No
 * punctuation: espeak pauses at commas and full stops.
 */
const SENTENCES = ESPEAK_SENTENCES.slice(0, 12);
/** espeak-ng words per minute: a little slower than its default 175, for tiny.en's sake. */
const SPEECH_WPM = '150';
const PAUSE_SECONDS = 1;
/**
 * Per-sentence word error rate allowed: tiny.en's own misreadings of synthetic speech (a few words),
 * far below the 100% of a sentence doubled or dropped at a cut (the sentence check below proves those
 * still fail). 0.4, not 0.2: the int8 models quantise activations per batch (DynamicQuantizeLinear), so
 * a window's text depends on which windows shared its run; on the same cuts (24.74, 51.49 s) clean-clone
 * CI saw "drove to the beach on Saturday and spent the whole afternoon" read as "drove to Mebichonsatone
 * and spent the full afternoon" (0.29) in one run and 0.06 in the next.
 */
const MAX_SENTENCE_WER = 0.4;
const MAX_TOTAL_WER = 0.1;
const SR = 16000;

const env = fileApp('fs-longform-');
let sentenceFiles: string[];

/** Runs a command and fails loudly with its stderr. */
function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

beforeAll(async () => {
  // One WAV per sentence: 16 kHz mono 16-bit, leading and trailing silence trimmed (below -60 dBFS).
  // sox -R -D: repeatable and undithered, so every run gets the same samples (dither is random).
  sentenceFiles = SENTENCES.map((text, i) => {
    const raw = path.join(env.tmp, `raw-${i}.wav`);
    const out = path.join(env.tmp, `sentence-${i}.wav`);
    run('espeak-ng', ['-s', SPEECH_WPM, '-w', raw, text]);
    run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', out,
      'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
    return out;
  });
  run('sox', ['-R', '-n', '-r', String(SR), '-c', '1', '-b', '16', path.join(env.tmp, 'pause.wav'), 'trim', '0', String(PAUSE_SECONDS)]);
}, 120_000);

/** Concatenates the sentences, with a pause between them or none. */
function makeLongform(name: string, withPauses: boolean): { file: string; samples: Float32Array } {
  const file = path.join(env.tmp, `${name}.wav`);
  const parts = withPauses
    ? sentenceFiles.flatMap((f, i) => (i === 0 ? [f] : [path.join(env.tmp, 'pause.wav'), f]))
    : sentenceFiles;
  run('sox', ['-R', '-D', ...parts, file]);
  // The same samples ffmpeg gives the service (s16 / 32768), so vadPlan here plans what it plans.
  return { file, samples: parseWavPcm16Mono(fs.readFileSync(file)).samples };
}

/** The service's chunk plan of these samples: Silero VAD probabilities, then planSpeechChunks. */
async function vadPlan(samples: Float32Array) {
  const session = await loadSileroVad();
  try {
    const vad = new SileroVadStream(session);
    const probs = [...(await vad.push(samples)), ...(await vad.finish())];
    return planSpeechChunks(probs, samples.length);
  } finally {
    await session.release();
  }
}

/**
 * Aligns the whole reference (all sentences, in order) to the hypothesis by word-level Levenshtein
 * distance and charges each edit to a sentence: substitutions and deletions to the reference word's
 * sentence, insertions to the sentence of the reference word before them. A sentence doubled shows as
 * that many insertions, a sentence dropped as that many deletions, one out of place as both: each
 * puts some sentence at ≥ 100%.
 * @returns word error rate per sentence
 */
function sentenceWers(sentences: readonly string[], hypothesis: string): number[] {
  const ref = sentences.flatMap((s, k) => normalise(s).map((w) => ({ w, k })));
  const hyp = normalise(hypothesis);
  const R = ref.length;
  const H = hyp.length;
  const d = Array.from({ length: R + 1 }, (_, i) => Int32Array.from({ length: H + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= R; i++) {
    for (let j = 1; j <= H; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1].w === hyp[j - 1] ? 0 : 1));
    }
  }
  const errors = sentences.map(() => 0);
  let i = R;
  let j = H;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && d[i][j] === d[i - 1][j - 1] + (ref[i - 1].w === hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1].w !== hyp[j - 1]) errors[ref[i - 1].k]++;
      i--;
      j--;
    } else if (i > 0 && d[i][j] === d[i - 1][j] + 1) {
      errors[ref[i - 1].k]++;
      i--;
    } else {
      errors[i > 0 ? ref[i - 1].k : 0]++;
      j--;
    }
  }
  return errors.map((e, k) => e / normalise(sentences[k]).length);
}

/** Word trigrams the hypothesis has more often than the reference: a phrase doubled at a cut. */
function doubledTrigrams(reference: string, hypothesis: string): string[] {
  const count = (words: string[]) => {
    const m = new Map<string, number>();
    for (let i = 0; i + 3 <= words.length; i++) {
      const g = words.slice(i, i + 3).join(' ');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    return m;
  };
  const r = count(normalise(reference));
  return [...count(normalise(hypothesis))].filter(([g, n]) => n >= 2 && n > (r.get(g) ?? 0)).map(([g]) => g);
}

/**
 * The `segment` events' texts of a finished job, from its SSE stream (replayed from the start; the stream
 * ends after `completed`). Events come in the order chunks were stored, so callers compare words as a
 * multiset.
 */
async function readSegmentEvents(url: string, apiKey: string, id: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${apiKey}` } });
  const texts: string[] = [];
  for (const block of (await res.text()).split('\n\n')) {
    const lines = block.split('\n');
    const field = (k: string) => lines.find((l) => l.startsWith(`${k}: `))?.slice(k.length + 2);
    if (field('event') === 'segment') texts.push(JSON.parse(field('data')!).text);
  }
  return texts;
}

describe('the sentence check', () => {
  const reference = SENTENCES.join('. ');
  test('passes the reference itself and a few misheard words', () => {
    expect(Math.max(...sentenceWers(SENTENCES, reference))).toBe(0);
    const misheard = reference.replace('the bus', 'the mass').replace('picked', 'big');
    expect(Math.max(...sentenceWers(SENTENCES, misheard))).toBeLessThanOrEqual(MAX_SENTENCE_WER);
    expect(doubledTrigrams(reference, misheard)).toEqual([]);
  });

  test('fails a sentence doubled, dropped or out of order', () => {
    const doubled = [...SENTENCES.slice(0, 5), SENTENCES[4], ...SENTENCES.slice(5)].join(' ');
    expect(Math.max(...sentenceWers(SENTENCES, doubled))).toBeGreaterThanOrEqual(1);
    const dropped = SENTENCES.filter((_, k) => k !== 7).join(' ');
    expect(sentenceWers(SENTENCES, dropped)[7]).toBe(1);
    const swapped = [...SENTENCES.slice(0, 3), SENTENCES[4], SENTENCES[3], ...SENTENCES.slice(5)].join(' ');
    expect(Math.max(...sentenceWers(SENTENCES, swapped))).toBeGreaterThan(MAX_SENTENCE_WER);
  });

  test('fails half a sentence doubled across a cut', () => {
    const words = SENTENCES[6].split(' ');
    const half = words.slice(words.length / 2).join(' ');
    const hyp = [...SENTENCES.slice(0, 7), half, ...SENTENCES.slice(7)].join(' ');
    expect(Math.max(...sentenceWers(SENTENCES, hyp))).toBeGreaterThan(MAX_SENTENCE_WER);
    expect(doubledTrigrams(reference, hyp).length).toBeGreaterThan(0);
  });
});

describe.each([
  { name: 'with pauses', withPauses: true },
  { name: 'without pauses', withPauses: false },
])('over a minute of speech $name', ({ name, withPauses }) => {
  test('transcribes every sentence once, in order, over ≥ 3 chunks', async () => {
    const { file, samples } = makeLongform(withPauses ? 'pauses' : 'continuous', withPauses);
    const seconds = samples.length / SR;
    expect(seconds).toBeGreaterThanOrEqual(60);
    const { chunks: plan } = await vadPlan(samples);
    const cuts = plan.slice(0, -1).map((c) => c.end);
    if (withPauses) {
      // the premise: every cut falls inside one of the 1 s pauses between sentences, none overlaps
      const pauseStarts: number[] = [];
      let t = 0;
      for (const f of sentenceFiles.slice(0, -1)) {
        t += parseWavPcm16Mono(fs.readFileSync(f)).samples.length / SR;
        pauseStarts.push(t);
        t += PAUSE_SECONDS;
      }
      for (const cut of cuts) expect(pauseStarts.some((a) => cut > a && cut < a + PAUSE_SECONDS)).toBe(true);
      expect(plan.some((c) => c.overlapsPrev)).toBe(false);
    } else {
      // the premise: no pause the planner could cut at near the limit: chunks overlap inside speech
      expect(plan.filter((c) => c.overlapsPrev).length).toBeGreaterThanOrEqual(1);
    }

    const { apiKey } = await env.app.user('free'); // free → whisper-tiny.en, preloaded by the harness
    const job = await submitAndWait(env.app.url, apiKey, file, {}, 90_000);
    expect(job.status).toBe('completed');
    expect(job.model).toBe('whisper-tiny.en');
    expect(job.audioSeconds).toBeCloseTo(seconds, 2);
    expect(job.progress.chunksTotal).toBeGreaterThanOrEqual(3);
    expect(job.progress).toEqual({ chunksDone: plan.length, chunksTotal: plan.length });

    const segments = job.segments as { start: number; end: number; text: string }[];
    let prevEnd = 0;
    for (const s of segments) {
      expect(s.start).toBeGreaterThanOrEqual(prevEnd);
      expect(s.end).toBeGreaterThanOrEqual(s.start);
      expect(s.end).toBeLessThanOrEqual(job.audioSeconds);
      prevEnd = s.end;
    }

    const wers = sentenceWers(SENTENCES, job.text);
    const worst = Math.max(...wers);
    const total = wers.reduce((a, w, k) => a + w * normalise(SENTENCES[k]).length, 0) / normalise(SENTENCES.join(' ')).length;
    const summary = `${name}: ${seconds.toFixed(1)} s, cuts at ${cuts.join(', ')} s; WER ${total.toFixed(3)}, per sentence ${wers.map((w) => w.toFixed(2)).join(' ')}`;
    console.log(worst > MAX_SENTENCE_WER || total > MAX_TOTAL_WER ? `${summary}\n${job.text}` : summary);
    expect(worst).toBeLessThanOrEqual(MAX_SENTENCE_WER);
    expect(total).toBeLessThanOrEqual(MAX_TOTAL_WER);
    expect(doubledTrigrams(SENTENCES.join(' '), job.text)).toEqual([]);

    // The SSE `segment` events say the same, each word once: an overlapping chunk's events waited for
    // its neighbour, so the merge had resolved the overlap before a client saw them.
    const events = await readSegmentEvents(env.app.url, apiKey, job.id);
    expect(normalise(events.join(' ')).sort()).toEqual(normalise(job.text).sort());
  }, 120_000);
});
