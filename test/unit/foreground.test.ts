/**
 * infra/foreground.ts, the stop path of `npm start` and `npm run cluster`, in a real child process: a signal or the
 * loss of its parent removes the stack file, runs the teardown once and exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const FOREGROUND = path.resolve(__dirname, '../../infra/foreground.ts');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-foreground-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A stack stand-in: writes its stack file, then waits; its teardown appends a line to `teardown.log`. */
function stackScript(teardownFails = false): string {
  const script = path.join(tmp, 'stack.ts');
  fs.writeFileSync(
    script,
    `import * as fs from 'node:fs';
import { stopOnSignals } from ${JSON.stringify(FOREGROUND)};
const log = { info: () => undefined, error: () => undefined } as any;
const stackFile = ${JSON.stringify(path.join(tmp, 'stack.json'))};
fs.writeFileSync(stackFile, '{}');
stopOnSignals(log, async () => {
  fs.appendFileSync(${JSON.stringify(path.join(tmp, 'teardown.log'))}, 'teardown\\n');
  ${teardownFails ? "throw new Error('teardown broke');" : ''}
}, stackFile);
process.stdout.write('ready\\n');
setInterval(() => undefined, 1000);
`,
  );
  return script;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready`)));
  });
}

test.each(['SIGINT', 'SIGTERM'] as const)('%s removes the stack file, tears down once and exits 0', async (signal) => {
  // node with tsx's loader, so the signal reaches the script's own process (the tsx CLI would relay it).
  const child = spawn('node', ['--import', 'tsx', stackScript()], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  await ready(child);
  expect(fs.existsSync(path.join(tmp, 'stack.json'))).toBe(true);
  child.kill(signal);
  expect(await exited(child)).toBe(0);
  expect(fs.existsSync(path.join(tmp, 'stack.json'))).toBe(false);
  expect(fs.readFileSync(path.join(tmp, 'teardown.log'), 'utf8')).toBe('teardown\n');
}, 60_000);

test('a teardown that throws still exits with the code', async () => {
  const child = spawn('node', ['--import', 'tsx', stackScript(true)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  await ready(child);
  child.kill('SIGTERM');
  expect(await exited(child)).toBe(0);
  expect(fs.readFileSync(path.join(tmp, 'teardown.log'), 'utf8')).toBe('teardown\n');
}, 60_000);

test('the stack stops when the process that started it dies without a signal reaching it', async () => {
  // sh starts the stack (node, with tsx's loader, so the script is the child of sh) and is SIGKILLed: the stack is
  // reparented and notices within the parent check.
  const pidFile = path.join(tmp, 'pid');
  const sh = spawn('sh', ['-c', `node --import tsx ${JSON.stringify(stackScript())} & echo $! > ${JSON.stringify(pidFile)}; wait`], {
    cwd: REPO,
    stdio: 'ignore',
  });
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(path.join(tmp, 'stack.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(fs.existsSync(path.join(tmp, 'stack.json'))).toBe(true);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  sh.kill('SIGKILL');
  while (fs.existsSync(path.join(tmp, 'stack.json')) && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 100));
  expect(fs.existsSync(path.join(tmp, 'stack.json'))).toBe(false);
  let alive = true;
  for (let i = 0; i < 50 && alive; i++) {
    try {
      process.kill(pid, 0);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      alive = false;
    }
  }
  expect(alive).toBe(false);
  expect(fs.readFileSync(path.join(tmp, 'teardown.log'), 'utf8')).toBe('teardown\n');
}, 60_000);
