/**
 * `npx tsx bench/vad-compare.ts FILE.f32 [FILE.f32 …]` (raw 16 kHz mono float32 LE)
 *
 * Silero VAD's two runs (audio/silero-vad.ts) side by side on the same files: the frame loop on the shipped model
 * (one onnxruntime call per 32 ms frame, the reference) and the sequence graph infra/models/silero-vad-models.sh
 * derives (one call per 30 s block, preparation's block). Prints per file the wall times, the largest probability
 * difference, and whether the speech spans (audio/vad.ts speechTimestamps) and the chunk plan
 * (audio/speech-spans.ts planSpeechChunks) are identical. Then the levelled input preparation uses
 * (audio/vad-gain.ts VadGainStream over the sequence graph) against the raw one: the gain per 30 s window, the speech
 * seconds of each, and whether spans and plan are identical (a file at normal level: gain 1 everywhere, identical).
 * Outside CI.
 */
import { loadSileroVad, sileroModelPath, sileroSeqModel, SileroVadStream } from '../audio/silero-vad';
import { planSpeechChunks } from '../audio/speech-spans';
import { speechTimestamps } from '../audio/vad';
import { pcmFileBlocks } from '../audio/vad-client';
import { VadGainStream } from '../audio/vad-gain';

const BLOCK_SAMPLES = 30 * 16000;

async function probabilities(file: string, model: string, levelled = false): Promise<{ ms: number; probs: Float32Array; samples: number; gains?: readonly number[] }> {
  const session = await loadSileroVad(model);
  const raw = new SileroVadStream(session);
  const vad = levelled ? new VadGainStream(raw) : raw;
  const parts: Float32Array[] = [];
  const t0 = performance.now();
  let samples = 0;
  for await (const b of pcmFileBlocks(file, BLOCK_SAMPLES * 4)) {
    parts.push(await vad.push(b));
    samples += b.length;
  }
  parts.push(await vad.finish());
  const ms = performance.now() - t0;
  await session.release();
  const probs = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    probs.set(p, at);
    at += p.length;
  }
  return { ms, probs, samples, gains: vad instanceof VadGainStream ? vad.gains : undefined };
}

async function main(): Promise<void> {
  const seq = sileroSeqModel();
  if (!('file' in seq)) throw new Error(seq.missing);
  for (const file of process.argv.slice(2)) {
    const loop = await probabilities(file, sileroModelPath());
    const batched = await probabilities(file, seq.file);
    let worst = 0;
    for (let i = 0; i < loop.probs.length; i++) worst = Math.max(worst, Math.abs(loop.probs[i] - batched.probs[i]));
    const spans = [speechTimestamps(loop.probs, loop.samples), speechTimestamps(batched.probs, batched.samples)];
    const plans = [planSpeechChunks(loop.probs, loop.samples), planSpeechChunks(batched.probs, batched.samples)];
    const levelled = await probabilities(file, seq.file, true);
    const levelledPlan = planSpeechChunks(levelled.probs, levelled.samples);
    console.log(
      JSON.stringify({
        file,
        seconds: +(loop.samples / 16000).toFixed(1),
        loopMs: Math.round(loop.ms),
        sequenceMs: Math.round(batched.ms),
        frames: loop.probs.length,
        maxProbDiff: worst,
        spans: spans[0].length,
        spansEqual: JSON.stringify(spans[0]) === JSON.stringify(spans[1]),
        chunks: plans[0].chunks.length,
        chunksEqual: JSON.stringify(plans[0]) === JSON.stringify(plans[1]),
        levelledGainsDb: levelled.gains!.map((g) => +(20 * Math.log10(g)).toFixed(1)),
        speechSeconds: +plans[1].speechSeconds.toFixed(3),
        levelledSpeechSeconds: +levelledPlan.speechSeconds.toFixed(3),
        levelledSpansEqual: JSON.stringify(speechTimestamps(levelled.probs, levelled.samples)) === JSON.stringify(spans[1]),
        levelledChunksEqual: JSON.stringify(levelledPlan) === JSON.stringify(plans[1]),
      }),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
