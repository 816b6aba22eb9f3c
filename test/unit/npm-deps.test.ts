/**
 * infra/npm-deps.sh (sourced by infra/setup.sh): `npm ci` runs when node_modules does not hold what package-lock.json
 * names, decided by content, never by file times. Each case runs the shell function in a temporary directory with a
 * fake package-lock.json and node_modules (npm itself never runs).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';

const SCRIPT = path.resolve(__dirname, '../../infra/npm-deps.sh');

/** A package-lock.json (lockfileVersion 3) with one ordinary package and one optional one of another platform. */
const LOCK = {
  name: 'demo',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'demo', version: '1.0.0', dependencies: { ws: '^8.0.0' } },
    'node_modules/ws': { version: '8.23.0', resolved: 'https://registry.npmjs.org/ws/-/ws-8.23.0.tgz', integrity: 'sha512-aaa' },
    'node_modules/@esbuild/darwin-arm64': { version: '0.25.0', resolved: 'https://registry.npmjs.org/x.tgz', integrity: 'sha512-bbb', optional: true },
  },
};

/** npm's hidden lockfile for LOCK as installed on linux: no root entry, the other platform's optional package absent. */
const HIDDEN = {
  name: 'demo',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: { 'node_modules/ws': LOCK.packages['node_modules/ws'] },
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-npm-deps-'));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(LOCK, null, 2));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs npm_ci_needed in `dir`: true when it says `npm ci` must run. */
function needed(): boolean {
  const r = spawnSync('bash', ['-c', `source ${JSON.stringify(SCRIPT)} && npm_ci_needed`], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`npm_ci_needed exited ${r.status}: ${r.stderr}`);
  return r.status === 0;
}

function installed(hidden: unknown = HIDDEN): void {
  fs.mkdirSync(path.join(dir, 'node_modules/ws'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'node_modules/.package-lock.json'), JSON.stringify(hidden, null, 2));
}

const lockHash = () => crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'package-lock.json'))).digest('hex');
/** Sets a file's mtime `s` seconds from now. */
const age = (file: string, s: number) => fs.utimesSync(path.join(dir, file), new Date(Date.now() + s * 1000), new Date(Date.now() + s * 1000));

test('no node_modules: install', () => {
  expect(needed()).toBe(true);
});

test('a hard-linked node_modules (old mtimes) under a fresh package-lock.json of the same content: no install', () => {
  installed();
  fs.writeFileSync(path.join(dir, 'node_modules/.fairscribe-lock-hash'), lockHash());
  age('node_modules/.package-lock.json', -86_400);
  age('node_modules/.fairscribe-lock-hash', -86_400);
  age('package-lock.json', 0);
  expect(needed()).toBe(false);
});

test('the stamp names another lock: install, even when package-lock.json is older than node_modules', () => {
  installed();
  fs.writeFileSync(path.join(dir, 'node_modules/.fairscribe-lock-hash'), 'f'.repeat(64));
  age('package-lock.json', -86_400);
  expect(needed()).toBe(true);
});

test("no stamp: npm's hidden lockfile decides (other platforms' optional packages may be absent)", () => {
  installed();
  age('node_modules/.package-lock.json', -86_400);
  expect(needed()).toBe(false);
});

test('no stamp and a hidden lockfile with another version, or a missing package, or none: install', () => {
  installed({ ...HIDDEN, packages: { 'node_modules/ws': { ...LOCK.packages['node_modules/ws'], version: '8.22.0' } } });
  expect(needed()).toBe(true);
  installed({ ...HIDDEN, packages: {} });
  expect(needed()).toBe(true);
  installed({ ...HIDDEN, packages: { ...HIDDEN.packages, 'node_modules/left-over': { version: '1.0.0' } } });
  expect(needed()).toBe(true);
  fs.rmSync(path.join(dir, 'node_modules/.package-lock.json'));
  expect(needed()).toBe(true);
});

test('npm_ci_stamp records the lock, after which the same lock needs no install and a changed one does', () => {
  installed();
  const r = spawnSync('bash', ['-c', `source ${JSON.stringify(SCRIPT)} && npm_ci_stamp`], { cwd: dir, encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'node_modules/.fairscribe-lock-hash'), 'utf8')).toBe(lockHash());
  expect(needed()).toBe(false);
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ ...LOCK, version: '1.0.1' }, null, 2));
  expect(needed()).toBe(true);
});
