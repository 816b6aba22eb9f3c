/**
 * FAIRSCRIBE_API_URL as users write it (api/cli/stack-file.ts resolveApiTarget). The README gives the OpenAI
 * client `baseURL: 'http://127.0.0.1:8080/v1'`; the same value here made every tool call /v1/v1/jobs (404 "no route
 * for POST /v1/v1/jobs"). An address without a scheme failed inside fetch ("Failed to parse URL from …").
 */
import { resolveApiTarget } from '../../api/cli/stack-file';

const saved = { url: process.env.FAIRSCRIBE_API_URL, key: process.env.FAIRSCRIBE_API_KEY };
afterEach(() => {
  for (const [name, v] of [['FAIRSCRIBE_API_URL', saved.url], ['FAIRSCRIBE_API_KEY', saved.key]] as const) {
    if (v === undefined) delete process.env[name];
    else process.env[name] = v;
  }
});

function target(url: string) {
  process.env.FAIRSCRIBE_API_URL = url;
  process.env.FAIRSCRIBE_API_KEY = 'fsk_x_y';
  return resolveApiTarget().apiUrl;
}

test.each([
  ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
  ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
  ['http://127.0.0.1:8080/v1', 'http://127.0.0.1:8080'],
  ['https://stt.example/v1/', 'https://stt.example'],
  ['https://example.org/fairscribe', 'https://example.org/fairscribe'],
])('%s → %s', (url, expected) => {
  expect(target(url)).toBe(expected);
});

test.each([['127.0.0.1:8080'], ['ftp://127.0.0.1'], ['not a url']])('%s: a sentence naming the variable', (url) => {
  expect(() => target(url)).toThrow(
    `FAIRSCRIBE_API_URL must be the API's http:// or https:// address, such as http://127.0.0.1:8080 (got '${url}')`,
  );
});
