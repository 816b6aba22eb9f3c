/**
 * Early chunks (audio/prepare.ts sureChunksOfPrefix): what preparation announces from a decoded prefix must be the
 * whole file's plan's first chunks, unchanged, whatever follows the prefix. Checked on synthetic probability tracks
 * (seeded random speech runs from 0.1 to 45 s, so hard cuts with overlap happen; pauses from 32 ms to 6 s, so cuts
 * inside spans and removed pauses both happen; frames between the two thresholds), cut into prefixes at every 30 s
 * block (preparation's default) and at odd block sizes.
 */
import { sureChunksOfPrefix } from '../../audio/prepare';
import { DEFAULT_SPEECH_PLAN, planSpeechChunks } from '../../audio/speech-spans';
import { VAD_FRAME_SAMPLES } from '../../audio/vad';
import { mulberry32 } from '../helpers/prng';

const SR = 16000;


/**
 * A random track of `seconds`: speech runs (0.9, with dips to 0.4 that continue speech) and pauses (0.05); with
 * `shortPauses` no pause reaches min_silence_duration_ms (2 s), so the whole track is one span, open in every prefix.
 */
function randomTrack(seed: number, seconds: number, shortPauses = false): { probs: Float32Array; samples: number } {
  const r = mulberry32(seed);
  const frames = Math.floor((seconds * SR) / VAD_FRAME_SAMPLES);
  const probs = new Float32Array(frames);
  let f = 0;
  while (f < frames) {
    const long = r() < 0.15;
    const speech = Math.round(((long ? 30 + r() * 15 : 0.1 + r() * 12) * SR) / VAD_FRAME_SAMPLES);
    for (let i = 0; i < speech && f < frames; i++, f++) probs[f] = r() < 0.05 ? 0.4 : 0.9;
    const pauseS = r() < 0.5 ? 0.032 + r() * 0.5 : r() < 0.6 || shortPauses ? 0.5 + r() * 1.4 : 2 + r() * 4;
    const pause = Math.max(1, Math.round((pauseS * SR) / VAD_FRAME_SAMPLES));
    for (let i = 0; i < pause && f < frames; i++, f++) probs[f] = 0.05;
  }
  return { probs, samples: Math.round(seconds * SR) };
}

describe('sureChunksOfPrefix', () => {
  test.each([
    { kind: 'pauses of every length', shortPauses: false },
    { kind: 'pauses under 2 s only (one open span)', shortPauses: true },
  ])('$kind: every prefix announces only the whole plan\'s first chunks, and most chunks are announced before the end', ({ shortPauses }) => {
    let announcedBeforeEnd = 0;
    let total = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { probs, samples } = randomTrack(seed, 300 + (seed % 7) * 60, shortPauses);
      const whole = planSpeechChunks(probs, samples).chunks;
      total += whole.length;
      for (const blockS of [30, 7.3]) {
        let best = 0;
        for (let n = Math.round(blockS * SR); n < samples; n += Math.round(blockS * SR)) {
          const frames = Math.floor(n / VAD_FRAME_SAMPLES);
          const sure = sureChunksOfPrefix(probs.subarray(0, frames), n);
          expect(sure).toEqual(whole.slice(0, sure.length));
          // a later prefix never takes back what an earlier one announced
          expect(sure.length).toBeGreaterThanOrEqual(best);
          best = sure.length;
        }
        if (blockS === 30) announcedBeforeEnd += best;
      }
    }
    // the point of it: all but the last minute's chunks or so are known before the decode ends
    expect(announcedBeforeEnd / total).toBeGreaterThan(0.6);
  });

  test('a dropped blip after the last span does not stretch what is final (a later short span changes the first cut)', () => {
    // speech 10 s, 3 s, speech 10 s, 12 s, a 0.1 s blip (shorter than min_speech_duration_ms: dropped), 2.5 s | prefix
    // ends here; then 1 s, speech 3 s, 3 s, speech 20 s, 5 s. The whole plan's first cut is after the 3 s span.
    const parts: ['s' | 'q', number][] = [['s', 10], ['q', 3], ['s', 10], ['q', 12], ['s', 0.1], ['q', 2.5], ['q', 1], ['s', 3], ['q', 3], ['s', 20], ['q', 5]];
    const frames: number[] = [];
    let t = 0;
    let prefixFrames = 0;
    parts.forEach(([kind, seconds], i) => {
      t += seconds;
      while ((frames.length + 0.5) * VAD_FRAME_SAMPLES < t * SR) frames.push(kind === 's' ? 0.9 : 0.05);
      if (i === 5) prefixFrames = frames.length;
    });
    const probs = Float32Array.from(frames);
    const whole = planSpeechChunks(probs, Math.round(t * SR)).chunks;
    const sure = sureChunksOfPrefix(probs.subarray(0, prefixFrames), prefixFrames * VAD_FRAME_SAMPLES);
    expect(sure).toEqual(whole.slice(0, sure.length));
  });

  test('nothing is sure while the prefix ends inside its first speech, nor under a planner that splits spans by length', () => {
    const { probs, samples } = randomTrack(7, 600);
    expect(sureChunksOfPrefix(probs.subarray(0, 30), 30 * VAD_FRAME_SAMPLES)).toEqual([]);
    const splitting = { ...DEFAULT_SPEECH_PLAN, vad: { ...DEFAULT_SPEECH_PLAN.vad, maxSpeechDurationS: 29 } };
    expect(sureChunksOfPrefix(probs, samples, splitting)).toEqual([]);
  });
});
