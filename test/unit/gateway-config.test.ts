/**
 * The gateway's read timeouts (infra/nginx): the synchronous OpenAI routes wait for the whole transcript without
 * sending a byte, so their proxy_read_timeout must outlast the longest sync file's processing (SYNC_MAX_AUDIO_S of
 * audio at up to real time under load); every other plain route keeps the server's 300 s.
 */
import { DEFAULT_SYNC_READ_TIMEOUT_S, renderGatewayConfig } from '../../infra/nginx/render';
import { loadConfig } from '../../common/config';

const conf = renderGatewayConfig({ listen: '127.0.0.1:8088', apis: ['127.0.0.1:8080'], prefix: '/tmp/x' });

/** The body of the `location` block whose header matches, or null. */
function locationBlock(header: RegExp): string | null {
  const m = conf.match(new RegExp(`location ${header.source}\\s*\\{([^}]*)\\}`));
  return m ? m[1]! : null;
}

function readTimeout(block: string): number {
  return Number(/proxy_read_timeout (\d+)s;/.exec(block)?.[1]);
}

test('POST /v1/audio/transcriptions and /translations wait longer than the longest sync file takes', () => {
  const block = locationBlock(/~ \^\/v1\/audio\/\(transcriptions\|translations\)\$/);
  expect(block).not.toBeNull();
  expect(block).toContain('proxy_pass http://fairscribe_api;');
  const syncMaxAudioS = loadConfig({} as NodeJS.ProcessEnv).syncMaxAudioSeconds;
  expect(syncMaxAudioS).toBe(1200);
  // real time under load, plus the queueing every route allows
  expect(readTimeout(block!)).toBe(DEFAULT_SYNC_READ_TIMEOUT_S);
  expect(readTimeout(block!)).toBeGreaterThanOrEqual(syncMaxAudioS + 300);
});

test('every other plain route keeps the 300 s read timeout', () => {
  const server = conf.slice(0, conf.indexOf('location '));
  expect(readTimeout(server)).toBe(300);
  expect(locationBlock(/\//)).not.toMatch(/proxy_read_timeout/);
});

test('the timeout is an option of the renderer', () => {
  const c = renderGatewayConfig({ listen: '127.0.0.1:8088', apis: ['127.0.0.1:8080'], prefix: '/tmp/x', syncReadTimeoutSeconds: 2400 });
  expect(c).toContain('proxy_read_timeout 2400s;');
});
