/**
 * OpenAI's `chunking_strategy` on /v1/audio/*: the string form is "auto" only (its object form arrives as bracketed
 * multipart keys and is accepted by the route); any other string is a 400 naming the field, not silently accepted.
 */
import { describeZodError, openAiFields, validate } from '../../api/schemas';

test('chunking_strategy: "auto" is accepted, another string is refused by name', () => {
  expect(validate(openAiFields, { model: 'whisper-1', chunking_strategy: 'auto' }).success).toBe(true);
  const r = validate(openAiFields, { model: 'whisper-1', chunking_strategy: 'bogus' });
  expect(r.success).toBe(false);
  if (!r.success) expect(describeZodError(r.error)).toBe('chunking_strategy: must be "auto" or an object (chunking_strategy[type]=server_vad, …)');
});
