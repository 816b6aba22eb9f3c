/**
 * OpenAI's `include[]` on /v1/audio/* (api/schemas.ts openAiFields): its one value, logprobs, is refused by name
 * (per-token log-probabilities are not kept); any other value is named as what it is, not answered with the
 * logprobs sentence.
 */
import { describeZodError, openAiFields, validate } from '../../api/schemas';

const why = (v: string) => {
  const r = validate(openAiFields, { model: 'whisper-1', 'include[]': v });
  return r.success ? 'accepted' : describeZodError(r.error);
};

test('logprobs: refused, saying why and what to use instead', () => {
  expect(why('logprobs')).toMatch(/^include\[\]: logprobs is not available: per-token log-probabilities are not kept; use response_format=verbose_json/);
});

test('another value: named, with the one value OpenAI defines', () => {
  expect(why('foo')).toBe('include[]: must be logprobs, the one value OpenAI defines (got "foo"), and logprobs is not available: per-token log-probabilities are not kept; use response_format=verbose_json for avg_logprob per segment');
  expect(why('logprobs,foo')).toMatch(/\(got "foo"\)/);
});
