/**
 * Long-form test audio for the word-timestamp benches (bench/eval-words.ts, bench/words-cost.ts): the reference
 * files of ../shared/audio one after another until ≥ `minSeconds`, once with pauses of 1–6 s between them and once
 * with none. Each piece's place in the long file is recorded, so its true start and end are known.
 */
import { execFileSync } from 'node:child_process';
import { SAMPLE_RATE } from '../engine/constants';

/** A file decoded by ffmpeg to float32 16 kHz mono PCM (stereo mixed down, as the pipeline does without multichannel). */
export function decodePcm(file: string): Float32Array {
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', String(SAMPLE_RATE), '-f', 'f32le', '-'], {
    maxBuffer: 1 << 30,
  });
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Where one piece lies in a long file, seconds. */
export interface PiecePlace {
  piece: string;
  start: number;
  end: number;
}

/** The pauses between pieces, seconds, in turn. */
const PAUSES = [1.5, 3, 6, 1, 4.5, 2];

/**
 * @param pieces     the reference files, decoded
 * @param minSeconds each long file is at least this long
 */
export function buildLongForm(
  pieces: readonly { name: string; samples: Float32Array }[],
  minSeconds: number,
): { withPauses: { samples: Float32Array; layout: PiecePlace[] }; noPauses: { samples: Float32Array; layout: PiecePlace[] } } {
  const withPauses: Float32Array[] = [];
  const noPauses: Float32Array[] = [];
  const layoutP: PiecePlace[] = [];
  const layoutN: PiecePlace[] = [];
  const min = minSeconds * SAMPLE_RATE;
  let k = 0;
  let lenP = 0;
  let lenN = 0;
  while (lenP < min || lenN < min) {
    const { name, samples: p } = pieces[k % pieces.length];
    if (lenP < min) {
      layoutP.push({ piece: name, start: lenP / SAMPLE_RATE, end: (lenP + p.length) / SAMPLE_RATE });
      const gap = new Float32Array(Math.round(PAUSES[k % PAUSES.length] * SAMPLE_RATE));
      withPauses.push(p, gap);
      lenP += p.length + gap.length;
    }
    if (lenN < min) {
      layoutN.push({ piece: name, start: lenN / SAMPLE_RATE, end: (lenN + p.length) / SAMPLE_RATE });
      noPauses.push(p);
      lenN += p.length;
    }
    k++;
  }
  return { withPauses: { samples: concat(withPauses), layout: layoutP }, noPauses: { samples: concat(noPauses), layout: layoutN } };
}
