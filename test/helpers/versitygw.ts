/**
 * A real S3-compatible server for tests: versitygw (Apache-2.0; built once by infra/versitygw.sh into
 * ~/.cache/fairscribe) with its POSIX backend in a temporary directory, on a loopback port, with an
 * access log so tests can see which S3 calls were made.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../infra/services';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** where the POSIX backend keeps the bucket's objects (bucket folder), to tamper with in tests */
  bucketDir: string;
  /** the access log so far: one line per request */
  accessLog(): string;
  /** env for loadConfig: BLOB_STORE=s3 against this server */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export function versitygwBin(): string {
  const out = execFileSync('bash', [path.resolve(__dirname, '../../infra/versitygw.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split('\n').pop()!;
}

export async function startVersitygw(): Promise<TestS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-s3-'));
  const bucket = 'fairscribe-test';
  // The POSIX backend treats each top-level folder as a bucket.
  fs.mkdirSync(path.join(dir, 'root', bucket), { recursive: true });
  const port = await freePort();
  const accessKeyId = 'fstest';
  const secretAccessKey = crypto.randomBytes(16).toString('hex');
  const logFile = path.join(dir, 'access.log');
  const child = spawn(
    versitygwBin(),
    ['--port', `127.0.0.1:${port}`, '--access-log', logFile, 'posix', path.join(dir, 'root')],
    { env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  // Any HTTP answer (403 to an unsigned request) means it listens.
  while (!(await fetch(endpoint).then(() => true, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`versitygw did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    bucketDir: path.join(dir, 'root', bucket),
    accessLog: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''),
    env: () => ({
      BLOB_STORE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: accessKeyId,
      S3_SECRET_ACCESS_KEY: secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    }),
    stop,
  };
}
