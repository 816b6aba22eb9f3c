/**
 * Whisper's decoding rules and the mapping of sampled tokens to segments (engine/decoding.ts), with the
 * special tokens of whisper-tiny.en (../shared/models/whisper-tiny.en/generation_config.json).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TIME_PER_TIMESTAMP_S } from '../../engine/constants';
import {
  applyDecodingRules,
  applySuppressionRules,
  argmax,
  segmentsFromTokens,
  suppressionKey,
  suppressionMask,
  suppressionMaskBase,
} from '../../engine/decoding';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';
import { mulberry32 } from '../helpers/prng';

const MODEL_DIR = path.resolve(__dirname, '../../../shared/models/whisper-tiny.en');
const gen = JSON.parse(readFileSync(path.join(MODEL_DIR, 'generation_config.json'), 'utf8')) as GenerationConfig;
const VOCAB_SIZE = (JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as { vocab_size: number })
  .vocab_size;
const vocab = new WhisperVocab(gen);
const TB = vocab.timestampBegin;
const EOT = vocab.eot;

/** The timestamp token for a time in seconds (`<|1.50|>`). */
const ts = (seconds: number) => TB + Math.round(seconds / TIME_PER_TIMESTAMP_S);
/** Some ordinary text tokens (any id below EOT that is not suppressed). */
const [A, B, C, D] = [464, 2068, 7586, 21831];

describe('the vocabulary of whisper-tiny.en', () => {
  test('has the ids the rules rely on', () => {
    expect(EOT).toBe(50256);
    expect(vocab.sot).toBe(50257);
    expect(vocab.noTimestamps).toBe(50362);
    expect(TB).toBe(50363);
    // 1501 timestamps, 0.00 to 30.00 s, fill the rest of the logits row
    expect(VOCAB_SIZE - TB).toBe(1501);
    expect(vocab.maxInitialTimestampIndex).toBe(50);
    for (const t of [A, B, C, D]) expect(vocab.suppressTokens).not.toContain(t);
  });
});

describe('segmentsFromTokens', () => {
  test('consecutive timestamp pairs split segments; a single timestamp ending consumes the whole window', () => {
    const tokens = [ts(0), A, B, ts(1.5), ts(1.5), C, ts(3.2), ts(3.4), D, ts(5)];
    const { segments, consumedSeconds } = segmentsFromTokens(tokens, vocab, 30);
    expect(segments).toEqual([
      { start: 0, end: 1.5, tokens: [A, B] },
      { start: 1.5, end: 3.2, tokens: [C] },
      { start: 3.4, end: 5, tokens: [D] },
    ]);
    expect(consumedSeconds).toBe(30);
  });

  test('ending on a pair: the seek goes to the last timestamp', () => {
    const tokens = [ts(0), A, ts(2), ts(2), B, ts(4.4), ts(4.4)];
    const { segments, consumedSeconds } = segmentsFromTokens(tokens, vocab, 30);
    expect(segments).toEqual([
      { start: 0, end: 2, tokens: [A] },
      { start: 2, end: 4.4, tokens: [B] },
    ]);
    expect(consumedSeconds).toBeCloseTo(4.4, 9);
  });

  test('text after the last pair with no closing timestamp is left for the next window', () => {
    // decoding stopped mid-segment (e.g. at max length): openai seeks to the last complete segment
    const tokens = [ts(0), A, ts(2.5), ts(2.5), B, C];
    const { segments, consumedSeconds } = segmentsFromTokens(tokens, vocab, 30);
    expect(segments).toEqual([{ start: 0, end: 2.5, tokens: [A] }]);
    expect(consumedSeconds).toBeCloseTo(2.5, 9);
  });

  test('no pair but a closing timestamp: one segment up to it, the whole window consumed', () => {
    const { segments, consumedSeconds } = segmentsFromTokens([ts(0.4), A, B, ts(6)], vocab, 20);
    expect(segments).toEqual([{ start: 0.4, end: 6, tokens: [A, B] }]);
    expect(consumedSeconds).toBe(20);
  });

  test('one opening timestamp only: the segment runs to the window end', () => {
    const { segments, consumedSeconds } = segmentsFromTokens([ts(1), A, B], vocab, 12.5);
    expect(segments).toEqual([{ start: 1, end: 12.5, tokens: [A, B] }]);
    expect(consumedSeconds).toBe(12.5);
  });

  test('no timestamps at all: one segment over the window', () => {
    expect(segmentsFromTokens([A, B], vocab, 7)).toEqual({ segments: [{ start: 0, end: 7, tokens: [A, B] }], consumedSeconds: 7 });
  });

  test('no tokens, or timestamps only: no segments, the whole window consumed', () => {
    expect(segmentsFromTokens([], vocab, 30)).toEqual({ segments: [], consumedSeconds: 30 });
    expect(segmentsFromTokens([ts(0), ts(0)], vocab, 30).segments).toEqual([]);
  });

  test('pairs without text between them give no segment', () => {
    const tokens = [ts(0), ts(1), ts(1), A, ts(2)];
    const { segments } = segmentsFromTokens(tokens, vocab, 30);
    expect(segments).toEqual([{ start: 1, end: 2, tokens: [A] }]);
  });

  test('timestamps past a short window are clipped to it', () => {
    // an 8 s window padded to 30 s: the model may still stamp 9.5 s
    const { segments, consumedSeconds } = segmentsFromTokens([ts(0), A, ts(6), ts(6), B, ts(9.5)], vocab, 8);
    expect(segments[1]).toEqual({ start: 6, end: 8, tokens: [B] });
    expect(consumedSeconds).toBe(8);
  });

  test('special tokens are not part of a segment’s text', () => {
    const { segments } = segmentsFromTokens([ts(0), A, vocab.sot, EOT, B, ts(1)], vocab, 30);
    expect(segments[0].tokens).toEqual([A, B]);
  });
});

describe('applyDecodingRules', () => {
  /** A logits row: every token at `base`, then the given overrides. */
  function row(overrides: [number, number][] = [], base = 0): Float32Array {
    const r = new Float32Array(VOCAB_SIZE).fill(base);
    for (const [id, v] of overrides) r[id] = v;
    return r;
  }
  const allowed = (r: Float32Array, id: number) => r[id] > -Infinity;
  /** The allowed ids in [from, to) (one expect per row: per-id expects over 51864 ids take seconds). */
  const allowedIn = (r: Float32Array, from: number, to: number) => {
    const ids: number[] = [];
    for (let id = from; id < to; id++) if (r[id] > -Infinity) ids.push(id);
    return ids;
  };
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
  const apply = (r: Float32Array, sampled: number[]) => {
    applyDecodingRules(r, sampled, vocab);
    return r;
  };

  test('suppress_tokens and <|notimestamps|> are always suppressed', () => {
    for (const sampled of [[], [ts(0)], [ts(0), A], [ts(0), A, ts(1)]]) {
      const r = apply(row(), sampled);
      expect(vocab.suppressTokens.filter((id) => allowed(r, id))).toEqual([]);
      expect(allowed(r, vocab.noTimestamps)).toBe(false);
    }
  });

  test('the first token is a timestamp of at most 1.0 s, even when text or a later timestamp scores higher', () => {
    const r = apply(row([[A, 50], [EOT, 50], [220, 50], [ts(5), 60], [ts(0.5), 1]]), []);
    expect(argmax(r)).toBe(ts(0.5));
    expect(allowedIn(r, 0, TB)).toEqual([]);
    expect(allowedIn(r, TB, VOCAB_SIZE)).toEqual(range(TB, ts(1.0) + 1)); // <|0.00|> … <|1.00|>
  });

  test('after a closed pair, text or EOT comes next, never a timestamp', () => {
    // the first timestamp alone counts as a pair (openai: penultimate_was_timestamp when len < 2)
    for (const sampled of [[ts(0)], [ts(0), A, ts(2), ts(2)]]) {
      const r = apply(row([[ts(3), 100]]), sampled);
      expect(allowedIn(r, TB, VOCAB_SIZE)).toEqual([]);
      expect(allowed(r, A)).toBe(true);
      expect(allowed(r, EOT)).toBe(true);
    }
  });

  test('after an open timestamp only timestamps (not earlier ones) or EOT may follow', () => {
    // EOT scores high enough that the "timestamps beat text" rule (which also counts EOT) leaves it
    const r = apply(row([[A, 100], [EOT, 10]]), [ts(0), A, B, ts(2)]);
    // no text token; EOT stays. (Ids between EOT and the first timestamp — language tokens, which
    // suppress_tokens does not list — are left alone here, as openai's `logits[:, :eot] = -inf` leaves them.)
    expect(allowedIn(r, 0, EOT + 1)).toEqual([EOT]);
    // the same timestamp again closes the pair; earlier ones are forbidden
    expect(allowedIn(r, TB, VOCAB_SIZE)).toEqual(range(ts(2), VOCAB_SIZE));
    expect(argmax(r)).not.toBe(A);
  });

  test('timestamps never decrease, and after a closed pair the next one is strictly later', () => {
    const r = apply(row(), [ts(0), A, ts(2), ts(2), B]);
    expect(allowedIn(r, TB, VOCAB_SIZE)).toEqual(range(ts(2.02), VOCAB_SIZE));
  });

  test('when the timestamps together are likelier than any text token, a timestamp is forced', () => {
    // 1501 timestamps at logit 0 against one text token at 5: e^5 ≈ 148 < 1501
    const forced = apply(row([[A, 5]], -30).fill(0, TB), [ts(0), A, B]);
    expect(allowed(forced, A)).toBe(false);
    expect(argmax(forced)).toBeGreaterThanOrEqual(TB);
    // one text token at 10 (e^10 ≈ 22026 > 1501): text stays allowed and wins
    const free = apply(row([[A, 10]], -30).fill(0, TB), [ts(0), A, B]);
    expect(allowed(free, A)).toBe(true);
    expect(argmax(free)).toBe(A);
  });

  test('greedy decoding of random logits under the rules always yields a well-formed sequence', () => {
    const rand = mulberry32(42);
    const text = [A, B, C, D];
    for (let trial = 0; trial < 4; trial++) {
      const sampled: number[] = [];
      while (sampled.length < 30) {
        // a few strong candidates per step: text tokens, EOT, suppressed tokens and timestamps
        const r = row([], -20);
        for (const t of text) r[t] = rand() * 6;
        r[EOT] = rand() * 3 - 1;
        r[vocab.suppressTokens[0]] = 10;
        r[vocab.noTimestamps] = 10;
        for (let k = 0; k < 8; k++) r[TB + Math.floor(rand() * 1501)] = rand() * 7;
        applyDecodingRules(r, sampled, vocab);
        const next = argmax(r);
        expect(r[next]).toBeGreaterThan(-Infinity);
        if (next === EOT) break;
        sampled.push(next);
      }
      expectWellFormed(sampled);
    }
  });
});

/** The invariants of openai's ApplyTimestampRules over a whole sampled sequence (EOT excluded). */
function expectWellFormed(tokens: number[]) {
  const isTs = (t: number) => t >= TB;
  expect(tokens.length).toBeGreaterThan(0);
  expect(isTs(tokens[0])).toBe(true);
  expect(tokens[0] - TB).toBeLessThanOrEqual(vocab.maxInitialTimestampIndex);
  let lastTs = -1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    expect(vocab.suppressTokens).not.toContain(t);
    expect(t).not.toBe(vocab.noTimestamps);
    if (isTs(t)) {
      expect(t).toBeGreaterThanOrEqual(lastTs); // never decreases
      lastTs = t;
    }
    if (i >= 1 && isTs(tokens[i - 1])) {
      const closedPair = i < 2 || isTs(tokens[i - 2]);
      // after a pair (or the first timestamp): text; after an open timestamp: a timestamp
      expect(isTs(t)).toBe(!closedPair);
      if (!closedPair) expect(t).toBeGreaterThanOrEqual(tokens[i - 1]);
      if (closedPair && i >= 2) expect(t).toBeLessThan(EOT);
    }
    if (i >= 2 && isTs(t) && !isTs(tokens[i - 1])) {
      // a timestamp after text is strictly later than the pair before the text
      const prev = tokens.slice(0, i).filter(isTs);
      expect(t).toBeGreaterThan(prev[prev.length - 1]);
    }
  }
}


describe('suppressionMask (the mask the decoder\'s step graph adds, engine/step-graph.ts)', () => {
  /** A random sampled-token history of a window: text, timestamp pairs, open timestamps, the odd repeated or late one. */
  function history(rand: () => number, len: number): number[] {
    const out: number[] = [];
    let t = 0;
    for (let i = 0; i < len; i++) {
      const u = rand();
      if (u < 0.5) out.push(Math.floor(rand() * EOT));
      else if (u < 0.8) out.push(TB + Math.min(1500, (t += Math.floor(rand() * 40))));
      else if (u < 0.9) out.push(out.length > 0 && out[out.length - 1] >= TB ? out[out.length - 1] : TB + t); // a pair closing
      else out.push(TB + Math.floor(rand() * 1501)); // any timestamp, earlier ones too
    }
    return out;
  }
  const base = suppressionMaskBase(vocab, VOCAB_SIZE);
  const branch = (sampled: number[]) => {
    if (sampled.length === 0) return 'first step';
    const last = sampled[sampled.length - 1] >= TB;
    const pen = sampled.length < 2 || sampled[sampled.length - 2] >= TB;
    const floor = sampled.some((x) => x >= TB) ? 'with floor' : 'no timestamp yet';
    return `${last ? (pen ? 'closed pair' : 'open pair') : 'text'}, ${floor}`;
  };

  test('logits + mask equals applySuppressionRules on random rows for random histories (every branch)', () => {
    const rand = mulberry32(18);
    const seen = new Set<string>();
    const rules = new Float32Array(VOCAB_SIZE);
    const mask = new Float32Array(VOCAB_SIZE);
    const cases: number[][] = [[], [ts(0)], [ts(0), A], [ts(0), A, ts(2)], [ts(0), A, ts(2), ts(2)], [A, B], [ts(29.5), A, ts(30)]];
    for (let k = 0; k < 60; k++) cases.push(history(rand, Math.floor(rand() * 12)));
    for (const sampled of cases) {
      const row = Float32Array.from({ length: VOCAB_SIZE }, () => (rand() - 0.5) * 40);
      rules.set(row);
      applySuppressionRules(rules, sampled, vocab);
      suppressionMask(mask, sampled, vocab, base);
      let differ = 0;
      for (let i = 0; i < VOCAB_SIZE; i++) if (row[i] + mask[i] !== rules[i] || (mask[i] !== 0 && mask[i] !== -Infinity)) differ++;
      expect({ sampled, differ }).toEqual({ sampled, differ: 0 });
      seen.add(branch(sampled));
    }
    expect([...seen].sort()).toEqual(
      [
        'first step',
        'text, no timestamp yet',
        'text, with floor',
        'closed pair, with floor',
        'open pair, with floor',
      ].sort(),
    );
  }, 30_000);

  test('histories with one key get one mask, so a decode loop rewrites a row\'s mask only when its key changes', () => {
    const rand = mulberry32(7);
    const byKey = new Map<number, Float32Array>();
    for (let k = 0; k < 200; k++) {
      const sampled = history(rand, Math.floor(rand() * 10));
      const mask = new Float32Array(VOCAB_SIZE);
      suppressionMask(mask, sampled, vocab, base);
      const key = suppressionKey(sampled, vocab);
      const prev = byKey.get(key);
      if (prev) expect(prev.every((v, i) => v === mask[i])).toBe(true);
      else byKey.set(key, mask);
    }
    expect(byKey.size).toBeGreaterThan(20);
  });
});
