/**
 * OpenAI's verbose_json segments (api/routes/openai.ts verboseSegments): `text` as Whisper decodes it, with the
 * leading space of its first token (openai/whisper transcribe.py: tokenizer.decode of the segment's tokens; OpenAI's
 * API documents `"text": " The beach was…"`), so code written against OpenAI that joins segment texts with '' keeps
 * the words apart. Languages written without spaces (engine/timing.ts NO_SPACE_LANGUAGES) get none.
 */
import { verboseSegments } from '../../api/routes/openai';

const seg = (text: string, language?: string) => ({ start: 0, end: 1, text, ...(language ? { language } : {}) });

test('each segment starts with a space, so joining with "" keeps the words apart', () => {
  const out = verboseSegments([seg('And so my fellow Americans,', 'en'), seg('ask not.', 'en')]);
  expect(out.map((s) => s.text)).toEqual([' And so my fellow Americans,', ' ask not.']);
  expect(out.map((s) => s.text).join('').trim()).toBe('And so my fellow Americans, ask not.');
});

test('a text that already has its space keeps one; languages without spaces get none', () => {
  expect(verboseSegments([seg(' already', 'en')])[0].text).toBe(' already');
  expect(verboseSegments([seg('我们今天', 'zh'), seg('こんにちは', 'ja')]).map((s) => s.text)).toEqual(['我们今天', 'こんにちは']);
  expect(verboseSegments([seg('no language kept')])[0].text).toBe(' no language kept');
});

test('ids count from 0; Whisper figures kept', () => {
  const stored = { ...seg('a', 'en'), avgLogprob: -0.3, noSpeechProb: 0.01, compressionRatio: 1.2, temperature: 0, tokens: [1, 2] };
  const out = verboseSegments([stored] as Parameters<typeof verboseSegments>[0]);
  expect(out[0]).toMatchObject({ id: 0, avg_logprob: -0.3, no_speech_prob: 0.01, compression_ratio: 1.2, temperature: 0, tokens: [1, 2] });
});
