/**
 * `npm run backfill`: the CLI as a user runs it (a child process talking HTTP to the API). Ctrl-C in
 * the middle leaves only whole jobs; the next run waits for those still running and submits the rest;
 * a third run (from a manifest) skips everything. No file is ever submitted twice.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { startTestApp, type TestApp } from '../helpers/harness';
import { until } from '../helpers/chaos';

const ROOT = path.resolve(__dirname, '../..');
const AUDIO = path.resolve(ROOT, '../shared/audio');

let app: TestApp;
let tmp: string;
let user: { userId: string; apiKey: string };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-backfill-'));
  app = await startTestApp();
  user = await app.user('premium');
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

function backfill(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api/cli/backfill.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, FAIRSCRIBE_API_URL: app.url, FAIRSCRIBE_API_KEY: user.apiKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

const jobsOfUser = async () =>
  (await app.pool.query(`SELECT id, status, priority_class, content_sha256 FROM jobs WHERE user_id = $1 ORDER BY created_at`, [user.userId])).rows;

test('Ctrl-C leaves whole jobs; a rerun finishes the rest; a third run skips all', async () => {
  const dir = path.join(tmp, 'audio');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.copyFileSync(path.join(AUDIO, 'jfk.wav'), path.join(dir, 'a.wav'));
  fs.copyFileSync(path.join(AUDIO, 'jfk.flac'), path.join(dir, 'b.flac'));
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', path.join(AUDIO, 'jfk.wav'), '-b:a', '32k', path.join(dir, 'sub', 'c.mp3')]);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not audio: a folder walk leaves it out');

  // 1. Interrupted as soon as its first job exists.
  const first = backfill([dir, '--max-in-flight', '1', '--json']);
  await until('the first backfill job', async () => (await jobsOfUser()).length > 0, 60_000, 50);
  first.child.kill('SIGINT');
  const r1 = await first.done;
  expect(r1.code).toBe(130);
  const afterInterrupt = await jobsOfUser();
  expect(afterInterrupt.length).toBeGreaterThanOrEqual(1);
  expect(afterInterrupt.length).toBeLessThan(3);
  expect(r1.stderr).toMatch(/run again to wait for them/);

  // 2. Resumes: waits for what is under way, submits the rest.
  const r2 = await backfill([dir, '--json']).done;
  expect(r2.code).toBe(0);
  const s2 = JSON.parse(r2.stdout);
  expect(s2.done + s2.skipped).toBe(3);
  expect(s2.failed).toBe(0);
  expect(s2.audioHours).toBeGreaterThan(0);
  expect(s2.cost).toBeGreaterThanOrEqual(0);
  const jobs = await jobsOfUser();
  expect(jobs).toHaveLength(3); // nothing submitted twice
  expect(jobs.map((j) => [j.status, j.priority_class])).toEqual(Array(3).fill(['completed', 'backfill']));
  expect(new Set(jobs.map((j) => j.content_sha256)).size).toBe(3);

  // 3. Nothing left to do: every file's content has a completed job (here from a manifest).
  const manifest = path.join(tmp, 'manifest.jsonl');
  fs.writeFileSync(
    manifest,
    [JSON.stringify({ path: 'audio/a.wav', language: 'en' }), JSON.stringify({ path: 'audio/b.flac' }), '', JSON.stringify({ path: 'audio/sub/c.mp3' })].join('\n'),
  );
  const r3 = await backfill([manifest, '--json']).done;
  expect(r3.code).toBe(0);
  expect(JSON.parse(r3.stdout)).toEqual({ done: 0, failed: 0, skipped: 3, audioHours: 0, cost: 0 });
  expect(await jobsOfUser()).toHaveLength(3);
}, 300_000);

test('a malformed manifest or a missing file is a usage error (exit 2), nothing submitted', async () => {
  const bad = path.join(tmp, 'bad.jsonl');
  fs.writeFileSync(bad, '{"path": "x.wav"}\nnot json\n');
  const before = (await jobsOfUser()).length;
  const r = await backfill([bad]).done;
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/bad\.jsonl:2: not JSON/);
  const missing = path.join(tmp, 'missing.jsonl');
  fs.writeFileSync(missing, '{"path": "nowhere.wav"}\n');
  const r2 = await backfill([missing]).done;
  expect(r2.code).toBe(2);
  expect(r2.stderr).toMatch(/no such file/);
  expect((await jobsOfUser()).length).toBe(before);
}, 60_000);
