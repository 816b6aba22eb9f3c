/**
 * `npm run -s eval:words [-- --models whisper-tiny.en,whisper-base --threads 2 --models-dir DIR --precision fp32
 *  --weights ct2 --only long --dump out.json --help]`
 *
 * Word timestamps of our engine (engine/timing.ts, openai/whisper timing.py's algorithm) against faster-whisper
 * 1.1.0 `word_timestamps=True` (its own port of the same algorithm, on the original CTranslate2 weights of the same
 * models; bench/peers/faster_whisper_words.py) on the same float32 16 kHz PCM, both greedy at temperature 0, no
 * conditioning on previous text, no VAD:
 *  - every reference file in ../shared/audio (stereo files mixed to mono, as the pipeline does without multichannel);
 *  - long-form files built from them (≥ 5 min): with pauses of 1–6 s between the pieces, and with none;
 *  - the long-form file with pauses after the pipeline's silence removal (audio/speech-spans.ts findSpeechSpans +
 *    compactAudio), our words mapped back onto the original time line by audio/transcript.ts mapWordToOriginal, as
 *    the inference activity maps them (audio/segment-map.ts); faster-whisper sees the original file.
 * Words both engines produce are paired by a longest common subsequence of their normalised spellings, within the
 * same piece of a long file (the layout is known: a word spoken once is not paired with the same word of another
 * repetition where the transcripts diverge); per model
 * the median and 95th percentile of |Δstart| and |Δend| over all pairs are printed with the targets (median ≤ 0.05 s,
 * p95 ≤ 0.3 s). Where a long file's pair differs by more than 0.3 s, the word's true time (the same word in its
 * isolated file, moved by the piece's start) says which engine is nearer. Needs `bash bench/setup-peers.sh` once.
 * Times are seconds.
 *
 * Measured (#16, 2026-12-07, tiny.en, all-files p95 |Δstart| / |Δend|): ours int8 vs faster-whisper int8 0.579 / 0.527
 * (0.643 / 0.447 before the seek cap); int8 graphs rebuilt from the CT2 weights (--weights ct2) 0.511 / 0.458; ours fp32
 * vs faster-whisper int8 0.480 / 0.386; ours fp32 vs faster-whisper float32 (--fw-compute-type float32) 0.160 / 0.140,
 * within the targets. On the same windows and text tokens (bench/words-align.ts: our int8 windows re-aligned by
 * CTranslate2's int8 `align`) the two alignments differ by p95 0.040 / 0.040 s over 1326 words. So tiny.en's int8 tail is the two int8 decoders
 * writing different text (and so placing different windows), not the alignment: pairs whose text agrees within ±3 words
 * are within the targets in every configuration (p95 ≤ 0.20 / 0.24 s).
 *
 * Session 7 (main 9671581, `nice -n 19 npm run -s eval:words`, service defaults: tiny.en int8, base fp32-encoder;
 * faster-whisper int8 unless said; p95 |Δstart| / |Δend|, median in brackets; "raw" = without the silence-removed row):
 *   base    ours vs fw int8            all files 0.189 / 0.060 (0.008 / 0.008)  within; raw 0.170 / 0.060
 *   tiny.en ours vs fw int8            all files 0.605 / 0.560 (0.020 / 0.020)  outside; raw 0.527 / 0.300
 *   tiny.en ours vs fw float32         all files 0.308 / 0.220 (0.020 / 0.020);  raw 0.220 / 0.140 within
 *   tiny.en fw int8 vs fw float32      (--ours-fw int8 --fw-compute-type float32) raw 0.200 / 0.120 (0.000 / 0.000)
 *   base    fw int8 vs fw float32      (the same)                                 raw 0.120 / 0.040 (0.000 / 0.000)
 * Our int8 words are as near faster-whisper's float32 words as faster-whisper's own int8 ones are (0.22 vs 0.20 p95
 * start on the same files); the two int8 engines (onnxruntime's per-tensor dynamic activations, CTranslate2's int8)
 * err in different directions, so against each other they differ by p95 0.53. The largest int8-vs-int8 differences
 * ("for" at 203 s and 275 s, "your" at 131 s of the pauses file) are words where faster-whisper int8 departs from its
 * own float32 and ours agrees with it. What is left over the target against float32 is the silence-removed row
 * (0.625 / 0.973): faster-whisper, on the file with its pauses, stretches a segment's last word over the pause after
 * it ("your" 203.42–206.62, "country." 206.62–206.62), which our input no longer has; against faster-whisper with its
 * own VAD the same words are within (0.218 / 0.102). base's largest difference ("so" at 11–13 s of the pauses file: ours
12.98–13.32, faster-whisper int8 11.16–13.32) is again faster-whisper int8 against its own float32 (12.98–13.32).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { compactAudio, findSpeechSpans } from '../audio/speech-spans';
import { mapWordToOriginal } from '../audio/transcript';
import { loadSileroVad, SileroVadStream } from '../audio/silero-vad';

const sileroSession = loadSileroVad();
import { loadConfig } from '../common/config';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';
import { defaultCpuPrecision } from '../engine/precision';
import type { Segment } from '../engine/transcriber';
import { buildLongForm, decodePcm, type PiecePlace } from './long-form';
import { BENCH_CACHE, VENV_PYTHON, loadNow, median, pad, padStart, percentile } from './lib';

const USAGE = `usage: npm run -s eval:words -- [options]
  --models a,b        models to compare (default whisper-tiny.en,whisper-base)
  --threads N         intra-op threads for both engines (default 2)
  --min-long-s S      length of the long-form files (default 300)
  --only TEXT         only the files whose name contains TEXT (e.g. long, jfk)
  --pair-gate-s S     pair words only when their starts are ≤ S apart (default no limit)
  --dump FILE         write every file's words (ours, faster-whisper) and the long files' layout as JSON
  --models-dir DIR    load our engine from DIR/<model> (default WHISPER_MODELS_DIR), e.g. ~/.cache/fairscribe/models-float
  --precision P       int8 | fp32 | fp16 graphs of that folder (default: int8 where present, else fp32)
  --weights W         shipped | ct2 (graphs rebuilt from the CTranslate2 weights by infra/models/ct2-models.sh)
  --no-word-seek      ours with the timestamp seek (TranscribeOptions.wordSeek false: the windows of a run without
                      words) instead of openai's word-based seek, to measure what the rule changes
  --fw-compute-type T int8 | float32: faster-whisper's CTranslate2 compute type (default int8, as the service's peer);
                      float32 with --precision fp32 compares two float decoders of the same weights, so that the
                      transcripts differ only where the float arithmetic does
  --ours-fw T         no engine of ours: faster-whisper at compute type T (int8 | float32) takes its place, paired with
                      faster-whisper at --fw-compute-type the same way (the silence-removed rows, which need our
                      engine, are left out): how far faster-whisper's own words move between two compute types
faster-whisper runs its CTranslate2 model of the same weights (bench/peers/faster_whisper_words.py).`;

const TARGET_MEDIAN_S = 0.05;
const TARGET_P95_S = 0.3;

interface W {
  word: string;
  start: number;
  end: number;
}



const norm = (w: string) => w.toLowerCase().replace(/[^\p{L}\p{N}']/gu, '');

/**
 * Pairs of words both lists have, by a longest common subsequence of normalised spellings, only within the same
 * piece of a long file (`pieceOf`: the piece a word's middle is nearest to, from the file's known layout). With `gateS`,
 * two words only pair when their starts are at most that far apart: the long-form files repeat the same
 * sentences, and where the transcripts diverge a plain LCS pairs a word with the same word of another
 * repetition seconds away (a different spoken word).
 */
function pairWords(a: W[], b: W[], gateS = Infinity, pieceOf: (w: W) => number = () => 0): [W, W][] {
  const x = a.map((w) => norm(w.word));
  const y = b.map((w) => norm(w.word));
  const pa = a.map(pieceOf);
  const pb = b.map(pieceOf);
  const n = x.length;
  const m = y.length;
  const same = (i: number, j: number) => x[i] === y[j] && x[i] !== '' && pa[i] === pb[j] && Math.abs(a[i].start - b[j].start) <= gateS;
  const L = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      L[i * (m + 1) + j] = same(i, j) ? L[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(L[(i + 1) * (m + 1) + j], L[i * (m + 1) + j + 1]);
  const pairs: [W, W][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (same(i, j) && L[i * (m + 1) + j] === L[(i + 1) * (m + 1) + j + 1] + 1) {
      pairs.push([a[i], b[j]]);
      i++;
      j++;
    } else if (L[(i + 1) * (m + 1) + j] >= L[i * (m + 1) + j + 1]) i++;
    else j++;
  }
  return pairs;
}

/** The index of the piece (known layout of a long file) whose span a word's middle is in or nearest to. */
function pieceIndex(layout: readonly PiecePlace[], w: W): number {
  const mid = (w.start + w.end) / 2;
  let best = 0;
  let bestD = Infinity;
  layout.forEach((p, k) => {
    const d = mid < p.start ? p.start - mid : mid > p.end ? mid - p.end : 0;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  return best;
}

/**
 * The true time of a long file's word: the same word of the same piece on its own (the isolated reference file,
 * where both engines agree to a median 0.00 s: the mean of their times), moved by the piece's start; the
 * occurrence nearest `w`. null where the isolated
 * file has no such word.
 */
function trueTime(layout: readonly PiecePlace[], isolated: Map<string, W[]>, w: W): { start: number; end: number } | null {
  const p = layout[pieceIndex(layout, w)];
  const same = (isolated.get(p.piece) ?? []).filter((r) => norm(r.word) === norm(w.word));
  if (same.length === 0) return null;
  const r = same.reduce((a, b) => (Math.abs(b.start + p.start - w.start) < Math.abs(a.start + p.start - w.start) ? b : a));
  return { start: r.start + p.start, end: r.end + p.start };
}

async function main() {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'whisper-tiny.en,whisper-base' },
      threads: { type: 'string', default: '2' },
      'min-long-s': { type: 'string', default: '300' },
      // only these files (substring of the name), e.g. --only long
      only: { type: 'string', default: '' },
      // pair words only when their starts are at most this many seconds apart (default: no limit)
      'pair-gate-s': { type: 'string', default: 'Infinity' },
      // write every file's words (ours, faster-whisper) and the long files' piece layout to this JSON file
      dump: { type: 'string', default: '' },
      // our engine's model folders (default WHISPER_MODELS_DIR), e.g. ~/.cache/fairscribe/models-float for the fp32
      // graphs infra/models/float-models.sh makes; the audio stays ../shared/audio
      'models-dir': { type: 'string', default: '' },
      // which graphs of that folder (default: engine/precision.ts choosePrecision, int8 where present on CPU)
      precision: { type: 'string', default: '' },
      // shipped | ct2 (engine/node-loader.ts LoadOptions.weights: graphs rebuilt from the CTranslate2 weights)
      weights: { type: 'string', default: 'shipped' },
      // faster-whisper's compute type: int8 (default) or float32
      'fw-compute-type': { type: 'string', default: 'int8' },
      // ours with the timestamp seek instead of the word-based one (TranscribeOptions.wordSeek false)
      'no-word-seek': { type: 'boolean', default: false },
      // faster-whisper at this compute type in our place (its own words across compute types)
      'ours-fw': { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const precision = values.precision === '' ? undefined : values.precision;
  if (precision !== undefined && precision !== 'int8' && precision !== 'fp32' && precision !== 'fp16') {
    throw new Error(`--precision must be int8, fp32 or fp16, not ${values.precision}`);
  }
  if (values.weights !== 'shipped' && values.weights !== 'ct2') throw new Error(`--weights must be shipped or ct2, not ${values.weights}`);
  const fwComputeType = values['fw-compute-type']!;
  if (fwComputeType !== 'int8' && fwComputeType !== 'float32') throw new Error(`--fw-compute-type must be int8 or float32, not ${fwComputeType}`);
  const oursFw = values['ours-fw'] || null;
  if (oursFw !== null && oursFw !== 'int8' && oursFw !== 'float32') throw new Error(`--ours-fw must be int8 or float32, not ${oursFw}`);
  const threads = Number(values.threads);
  const config = loadConfig();
  const audioDir = path.join(config.modelsDir, '..', 'audio');
  const modelsDir = values['models-dir'] ? path.resolve(values['models-dir']) : config.modelsDir;
  if (!fs.existsSync(VENV_PYTHON)) throw new Error(`no venv at ${VENV_PYTHON}: bash bench/setup-peers.sh`);

  // --- the audio: every reference file, and long-form files built from them
  const refs = fs
    .readdirSync(audioDir)
    .filter((f) => /\.(wav|flac|mp3|ogg|m4a)$/i.test(f))
    .sort();
  const pieces = refs.map((f) => ({ name: f, samples: decodePcm(path.join(audioDir, f)) }));
  const long = buildLongForm(pieces, Number(values['min-long-s']));
  const longWithPauses = long.withPauses.samples;
  const lenP = longWithPauses.length;
  const lenN = long.noPauses.samples.length;
  const files: { name: string; samples: Float32Array; removeSilence?: boolean; fwVad?: boolean; layout?: PiecePlace[] }[] = [
    ...pieces,
    { name: `long ${(lenP / SAMPLE_RATE / 60).toFixed(1)} min, pauses`, samples: longWithPauses, layout: long.withPauses.layout },
    { name: `long ${(lenN / SAMPLE_RATE / 60).toFixed(1)} min, no pauses`, samples: long.noPauses.samples, layout: long.noPauses.layout },
    // the same file (faster-whisper's words for it are reused), ours after silence removal
    { name: `long, pauses, silence removed`, samples: longWithPauses, removeSilence: true, layout: long.withPauses.layout },
    // Like for like: the same words of ours (silence removed, mapped back) against faster-whisper with its own
    // silence removal (vad_filter=True: Silero VAD with the same defaults as audio/vad.ts DEFAULT_VAD, then
    // restore_speech_timestamps). Not part of the "all files" figure, which keeps its definition; a second line.
    { name: `long, pauses, silence removed, fw VAD`, samples: longWithPauses, removeSilence: true, fwVad: true, layout: long.withPauses.layout },
  ];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-words-'));
  const pcmFiles = files.map((f, i) => {
    const p = path.join(tmp, `${i}.f32`);
    fs.writeFileSync(p, Buffer.from(f.samples.buffer, f.samples.byteOffset, f.samples.byteLength));
    return p;
  });

  console.log(
    `eval:words  ${oursFw ? `"ours" = faster-whisper ${oursFw} (--ours-fw)` : 'ours (engine/timing.ts)'} vs faster-whisper word_timestamps=True (CTranslate2 ${fwComputeType}), greedy T=0, threads ${threads}, pairing gate ${values['pair-gate-s']} s`,
  );
  console.log(`load average at start ${loadNow()}; ${os.cpus().length} CPUs`);
  const summary: string[] = [];
  const dump: Record<string, unknown> = { layout: { pauses: long.withPauses.layout, noPauses: long.noPauses.layout }, models: {} };
  for (const model of values.models!.split(',')) {
    const ct2Dir = path.join(BENCH_CACHE, 'ct2', model);
    // faster-whisper: every distinct file once (the silence-removed case compares with the original file)
    const peerFiles = files.map((f, i) => ({
      name: String(i),
      pcm: pcmFiles[i],
      vad: f.fwVad === true,
      skip: (f.removeSilence && !f.fwVad) || (values.only && !f.name.includes(values.only)),
    }));
    const runFw = (computeType: string) => {
      const run = spawnSync(
        VENV_PYTHON,
        [
          path.join(__dirname, 'peers', 'faster_whisper_words.py'),
          JSON.stringify({ ct2Dir, threads, language: 'en', computeType, files: peerFiles.filter((f) => !f.skip) }),
        ],
        { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, HF_HUB_OFFLINE: '1' } },
      );
      if (run.status !== 0) throw new Error(`faster-whisper failed: ${run.stderr.split('\n').slice(-5).join(' ')}`);
      const got = new Map<string, { seconds: number; words: W[] }>();
      for (const line of run.stdout.trim().split('\n')) {
        const r = JSON.parse(line) as { name: string; seconds: number; segments: { words: W[] }[] };
        got.set(r.name, { seconds: r.seconds, words: r.segments.flatMap((s) => s.words) });
      }
      return got;
    };
    const fw = runFw(fwComputeType);
    // --ours-fw: faster-whisper's words at another compute type stand in for ours
    const fwOurs = oursFw ? runFw(oursFw) : null;

    const modelDir = path.join(modelsDir, model);
    // without --precision or --weights ct2, the graphs an inference worker runs (WHISPER_CPU_PRECISION, else the
    // model's cpuPrecision of config/models.json: workers/factory.ts engineLoadOptions)
    const engine = fwOurs
      ? null
      : await loadWhisper(modelDir, {
          threads,
          executionProvider: 'cpu',
          precision,
          weights: values.weights,
          cpuPrecision: config.cpuPrecision,
          warn: (m) => console.log(`warning: ${m}`),
        });
    console.log('');
    console.log(
      fwOurs
        ? `${model}  ("ours": faster-whisper ${oursFw}, paired with faster-whisper ${fwComputeType}; silence-removed rows left out)`
        : `${model}  (ours: ${modelDir}, ${precision ?? (values.weights === 'ct2' ? 'int8' : (config.cpuPrecision ?? defaultCpuPrecision(modelDir)))} graphs, ${values.weights} weights, ` +
            `${values['no-word-seek'] ? 'timestamp seek' : 'word-based seek'})`,
    );
    const head = `${pad('file', 40)}${padStart('words', 7)}${padStart('fw', 6)}${padStart('paired', 8)}${padStart('med|Δs|', 9)}${padStart('p95|Δs|', 9)}${padStart('med|Δe|', 9)}${padStart('p95|Δe|', 9)}${padStart('max|Δ|', 8)}${padStart('ours s', 8)}${padStart('fw s', 7)}`;
    console.log(head);
    console.log('-'.repeat(head.length));
    const allS: number[] = [];
    const allE: number[] = [];
    // the same without the silence-removed row: the files --ours-fw has, for a like-for-like line
    const rawS: number[] = [];
    const rawE: number[] = [];
    // the same pairs with the silence-removed file compared with faster-whisper's own VAD run instead
    const likeS: number[] = [];
    const likeE: number[] = [];
    let silenceRemoved: { words: W[]; seconds: number } | null = null;
    // diagnostic: the same pairs split by whether both engines decoded the same text around the word (±3 words,
    // spelling and punctuation as given): where the text differs, the heuristics of add_word_timestamps see other
    // words (a '.' truncates the next word; another segment end moves the last word) and the windows differ
    const ctxS = { same: [] as number[], differs: [] as number[] };
    const ctxE = { same: [] as number[], differs: [] as number[] };
    const worst: { file: string; ours: W; fw: W; d: number }[] = [];
    // the isolated reference files' words (both engines), the truth for the long files' pieces
    const isolated = new Map<string, W[]>();
    const verdicts = { ours: 0, fw: 0, tie: 0 };
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      if (values.only && !f.name.includes(values.only)) continue;
      if (fwOurs && f.removeSilence) continue;
      const t0 = performance.now();
      let words: W[];
      if (fwOurs) {
        words = fwOurs.get(String(i))!.words;
      } else if (f.fwVad && silenceRemoved) {
        words = silenceRemoved.words; // the same run of ours, another faster-whisper run
      } else if (f.removeSilence) {
        // The service's silence removal: Silero VAD spans (in-process here: a bench, not the service).
        const vad = new SileroVadStream(await sileroSession);
        const probs = [...(await vad.push(f.samples)), ...(await vad.finish())];
        const spans = findSpeechSpans(probs, f.samples.length);
        const r = await engine!.transcribe(compactAudio(f.samples, spans), { language: 'en', fallback: false, wordTimestamps: true, wordSeek: !values['no-word-seek'] });
        words = r.segments.flatMap((s: Segment) => (s.words ?? []).map((w) => ({ word: w.word, ...mapWordToOriginal(w, spans) })));
      } else {
        const r = await engine!.transcribe(f.samples, { language: 'en', fallback: false, wordTimestamps: true, wordSeek: !values['no-word-seek'] });
        words = r.segments.flatMap((s: Segment) => s.words ?? []);
      }
      const oursS: number = fwOurs ? fwOurs.get(String(i))!.seconds : f.fwVad && silenceRemoved ? silenceRemoved.seconds : (performance.now() - t0) / 1000;
      if (f.removeSilence && !f.fwVad) silenceRemoved = { words, seconds: oursS };
      const ref = fw.get(String(f.removeSilence && !f.fwVad ? files.findIndex((g) => g.samples === f.samples && !g.removeSilence) : i))!;
      const layout = f.layout;
      const pairs = pairWords(words, ref.words, Number(values['pair-gate-s']), layout ? (w) => pieceIndex(layout, w) : undefined);
      if (!layout) isolated.set(f.name, pairs.map(([a, b]) => ({ word: a.word, start: (a.start + b.start) / 2, end: (a.end + b.end) / 2 })));
      else if (!f.fwVad) {
        // which engine is nearer the truth where the two differ by more than the p95 target
        for (const [a, b] of pairs) {
          if (Math.max(Math.abs(a.start - b.start), Math.abs(a.end - b.end)) <= TARGET_P95_S) continue;
          // the occurrence is looked up from the middle of the two (neither engine's word is favoured)
          const t = trueTime(layout, isolated, { word: a.word, start: (a.start + b.start) / 2, end: (a.end + b.end) / 2 });
          if (!t) continue;
          const ea = Math.max(Math.abs(a.start - t.start), Math.abs(a.end - t.end));
          const eb = Math.max(Math.abs(b.start - t.start), Math.abs(b.end - t.end));
          verdicts[ea + 0.05 < eb ? 'ours' : eb + 0.05 < ea ? 'fw' : 'tie']++;
        }
      }
      ((dump.models as Record<string, unknown[]>)[model] ??= []).push({ file: f.name, ours: words, fw: ref.words });
      const ds = pairs.map(([a, b]) => Math.abs(a.start - b.start));
      const de = pairs.map(([a, b]) => Math.abs(a.end - b.end));
      if (!f.fwVad) {
        allS.push(...ds);
        allE.push(...de);
      }
      if (!f.removeSilence) {
        rawS.push(...ds);
        rawE.push(...de);
      }
      if (!(f.removeSilence && !f.fwVad)) {
        likeS.push(...ds);
        likeE.push(...de);
      }
      if (!f.fwVad) {
        const ia = new Map(words.map((w, k) => [w, k]));
        const ib = new Map(ref.words.map((w, k) => [w, k]));
        const around = (ws: W[], k: number) => ws.slice(Math.max(0, k - 3), k + 4).map((w) => w.word.trim()).join(' ');
        for (const [a, b] of pairs) {
          const key = around(words, ia.get(a)!) === around(ref.words, ib.get(b)!) ? 'same' : 'differs';
          ctxS[key].push(Math.abs(a.start - b.start));
          ctxE[key].push(Math.abs(a.end - b.end));
        }
      }
      if (!f.fwVad) pairs.forEach(([a, b]) => worst.push({ file: f.name, ours: a, fw: b, d: Math.max(Math.abs(a.start - b.start), Math.abs(a.end - b.end)) }));
      const fmt = (x: number) => x.toFixed(3);
      console.log(
        `${pad(f.name, 40)}${padStart(String(words.length), 7)}${padStart(String(ref.words.length), 6)}${padStart(String(pairs.length), 8)}` +
          `${padStart(fmt(median(ds)), 9)}${padStart(fmt(percentile(ds, 95)), 9)}${padStart(fmt(median(de)), 9)}${padStart(fmt(percentile(de, 95)), 9)}` +
          `${padStart(fmt(Math.max(...ds, ...de)), 8)}${padStart(oursS.toFixed(1), 8)}${padStart(ref.seconds.toFixed(1), 7)}`,
      );
    }
    await engine?.model.release();
    const ms = median(allS);
    const me = median(allE);
    const ps = percentile(allS, 95);
    const pe = percentile(allE, 95);
    const ok = ms <= TARGET_MEDIAN_S && me <= TARGET_MEDIAN_S && ps <= TARGET_P95_S && pe <= TARGET_P95_S;
    const line =
      `${pad(model, 18)} pairs ${allS.length}: median |Δstart| ${ms.toFixed(3)} s, |Δend| ${me.toFixed(3)} s; ` +
      `p95 |Δstart| ${ps.toFixed(3)} s, |Δend| ${pe.toFixed(3)} s  → ${ok ? 'within' : 'OUTSIDE'} the targets (median ≤ ${TARGET_MEDIAN_S}, p95 ≤ ${TARGET_P95_S})`;
    console.log(`all files: ${line}`);
    if (rawS.length !== allS.length) {
      console.log(
        `  without the silence-removed row (the files --ours-fw compares): pairs ${rawS.length}: median |Δstart| ${median(rawS).toFixed(3)} s, ` +
          `|Δend| ${median(rawE).toFixed(3)} s; p95 |Δstart| ${percentile(rawS, 95).toFixed(3)} s, |Δend| ${percentile(rawE, 95).toFixed(3)} s`,
      );
    }
    for (const key of ['same', 'differs'] as const) {
      const xs = ctxS[key];
      const ys = ctxE[key];
      console.log(
        `  of which text ${key === 'same' ? 'the same' : 'different'} within ±3 words: pairs ${xs.length}: median |Δstart| ${median(xs).toFixed(3)} s, ` +
          `|Δend| ${median(ys).toFixed(3)} s; p95 |Δstart| ${percentile(xs, 95).toFixed(3)} s, |Δend| ${percentile(ys, 95).toFixed(3)} s`,
      );
    }
    if (likeS.length !== allS.length || files.some((f) => f.fwVad && (!values.only || f.name.includes(values.only)))) {
      console.log(
        `like for like (the silence-removed file against faster-whisper vad_filter=True): pairs ${likeS.length}: median |Δstart| ` +
          `${median(likeS).toFixed(3)} s, |Δend| ${median(likeE).toFixed(3)} s; p95 |Δstart| ${percentile(likeS, 95).toFixed(3)} s, ` +
          `|Δend| ${percentile(likeE, 95).toFixed(3)} s`,
      );
    }
    console.log(
      `long files, pairs differing by > ${TARGET_P95_S} s: nearer the truth (the word in its isolated file, moved by the piece's start) ` +
        `ours ${verdicts.ours}, faster-whisper ${verdicts.fw}, within 0.05 s of each other ${verdicts.tie}`,
    );
    console.log('largest differences (ours vs faster-whisper):');
    for (const x of worst.sort((a, b) => b.d - a.d).slice(0, 5)) {
      console.log(
        `  ${pad(x.file, 34)} ${pad(JSON.stringify(x.ours.word.trim()), 16)} ours ${x.ours.start.toFixed(2)}–${x.ours.end.toFixed(2)}  fw ${x.fw.start.toFixed(2)}–${x.fw.end.toFixed(2)}`,
      );
    }
    summary.push(line);
    if (values.dump) fs.writeFileSync(values.dump, JSON.stringify(dump));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log('');
  console.log(`summary (load average at end ${loadNow()}):`);
  for (const l of summary) console.log(`  ${l}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
