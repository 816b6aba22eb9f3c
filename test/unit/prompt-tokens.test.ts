/**
 * A job's `prompt` as decoder context (engine/transcriber.ts promptTextTokens, engine/vocab.ts contextPrefix):
 * the same tokens faster-whisper 1.1.0 gives `initial_prompt` on the same tokenizer.json. Expected ids were
 * printed once by `faster_whisper.tokenizer.Tokenizer(...).encode(" " + prompt.strip())` (the venv of
 * bench/setup-peers.sh); sot_prev 50360 (tiny.en) / 50361 (base).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promptTextTokens } from '../../engine/transcriber';
import { WhisperVocab, type GenerationConfig } from '../../engine/vocab';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const read = (m: string, f: string) => JSON.parse(readFileSync(path.join(MODELS, m, f), 'utf8'));

const CASES: Record<string, { prompt: string; ids: number[] }[]> = {
  'whisper-tiny.en': [
    { prompt: 'Kubernetes', ids: [12554, 527, 3262, 274] },
    { prompt: '  PostgreSQL, Grafana and Nginx.  ', ids: [2947, 47701, 11, 7037, 69, 2271, 290, 399, 42822, 13] },
    { prompt: 'Quetzalli Oyelaran', ids: [2264, 23773, 36546, 39447, 417, 19173] },
  ],
  'whisper-base': [
    { prompt: 'Kubernetes', ids: [23145] },
    { prompt: '  PostgreSQL, Grafana and Nginx.  ', ids: [10223, 33248, 39934, 11, 8985, 69, 2095, 293, 426, 1494, 87, 13] },
    { prompt: 'Quetzalli Oyelaran', ids: [2326, 10074, 336, 72, 40023, 338, 17142] },
  ],
};
const SOT_PREV: Record<string, number> = { 'whisper-tiny.en': 50360, 'whisper-base': 50361 };

describe.each(Object.keys(CASES))('%s prompt tokens', (model) => {
  let tokenizer: { encode(text: string, o?: { add_special_tokens?: boolean }): { ids: number[] } };
  const vocab = new WhisperVocab(read(model, 'generation_config.json') as GenerationConfig);
  beforeAll(async () => {
    const { Tokenizer } = await import('@huggingface/tokenizers');
    tokenizer = new Tokenizer(read(model, 'tokenizer.json'), read(model, 'tokenizer_config.json'));
  });

  test.each(CASES[model])('"$prompt" is tokenised trimmed with one leading space, as faster-whisper does', ({ prompt, ids }) => {
    expect(promptTextTokens(tokenizer, prompt, vocab.eot)).toEqual(ids);
  });

  test('the context opens with <|startofprev|>; no prompt gives no context', () => {
    const ids = promptTextTokens(tokenizer, 'Kubernetes', vocab.eot);
    expect(vocab.contextPrefix(ids)).toEqual([SOT_PREV[model], ...ids]);
    expect(promptTextTokens(tokenizer, '   ', vocab.eot)).toEqual([]);
    expect(promptTextTokens(tokenizer, null, vocab.eot)).toEqual([]);
    expect(vocab.contextPrefix([])).toEqual([]);
  });

  test('a long prompt keeps its last 223 tokens (openai decoding.py: n_text_ctx // 2 - 1)', () => {
    const long = Array.from({ length: 120 }, (_, i) => `term${i}`).join(' ');
    const ids = promptTextTokens(tokenizer, long, vocab.eot);
    expect(ids.length).toBeGreaterThan(223);
    const context = vocab.contextPrefix(ids);
    expect(context).toHaveLength(224);
    expect(context.slice(1)).toEqual(ids.slice(-223));
  });
});
