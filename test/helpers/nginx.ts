/**
 * nginx (Debian's /usr/sbin/nginx) with the gateway config from infra/nginx, rendered for a test: a
 * loopback port, the given API replicas, a temporary prefix for the pid file, logs and temp files.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderGatewayConfig, type GatewayOptions } from '../../infra/nginx/render';
import { freePort } from '../../infra/services';

export const NGINX_BIN = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface TestGateway {
  url: string;
  prefix: string;
  errorLog(): string;
  stop(): Promise<void>;
}

export async function startGateway(opts: Omit<GatewayOptions, 'listen' | 'prefix'>): Promise<TestGateway> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-nginx-'));
  // nginx's workers drop root for `nobody`: they must reach the prefix; nginx makes the temp folders itself.
  fs.chmodSync(prefix, 0o755);
  fs.mkdirSync(path.join(prefix, 'tmp'), { mode: 0o755 });
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, renderGatewayConfig({ workerProcesses: 1, ...opts, listen: `127.0.0.1:${port}`, prefix }));
  const errorLogFile = path.join(prefix, 'error.log');
  const child = spawn(NGINX_BIN, ['-p', prefix, '-c', conf, '-e', errorLogFile, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGQUIT');
    await exited;
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  // Any HTTP answer (even 502 from a dead upstream) means nginx listens.
  while (!(await fetch(`${url}/healthz`).then(() => true, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, prefix, errorLog: () => (fs.existsSync(errorLogFile) ? fs.readFileSync(errorLogFile, 'utf8') : ''), stop };
}
