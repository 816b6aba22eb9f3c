/** Audio by URL (api/audio-url.ts): what is stored and logged of a URL, and the file name taken from it. */
import { filenameFromUrl, redactUrl } from '../../api/audio-url';

test('redactUrl drops userinfo, query string and fragment', () => {
  expect(redactUrl('https://user:pw@cdn.example.com:8443/a/b.wav?X-Amz-Signature=abc&e=1#t=3')).toBe('https://cdn.example.com:8443/a/b.wav');
  expect(redactUrl('http://[::1]:9000/x.mp3?sig=1')).toBe('http://[::1]:9000/x.mp3');
  expect(redactUrl('not a url')).toBeNull();
});

test('filenameFromUrl: the last path segment, decoded, never a path or control characters', () => {
  expect(filenameFromUrl(new URL('https://h/a/b/talk%20one.wav?x=1'))).toBe('talk one.wav');
  expect(filenameFromUrl(new URL('https://h/a/..%2F..%2Fetc%2Fpasswd'))).toBe('.._.._etc_passwd');
  expect(filenameFromUrl(new URL('https://h/'))).toBe('audio');
  expect(filenameFromUrl(new URL('https://h/%00%0a.wav'))).toBe('__.wav');
  expect(filenameFromUrl(new URL('https://h/%E0%A4%A'))).toBe('%E0%A4%A');
});
