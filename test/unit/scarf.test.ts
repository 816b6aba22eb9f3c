/**
 * swagger-ui-dist depends on @scarf/scarf, whose postinstall (`node ./report.js`) posts install
 * analytics to scarf.sh. package.json keeps it from running at all where npm honours `allowScripts`
 * (`"@scarf/scarf": false`), and where the script does run (older npm), `scarfSettings` turns it off:
 * `enabled: false` is the opt-out that report.js reads from the root package.json (its
 * `userHasOptedOut`), and `skipTraversal: true` makes it read that file directly instead of running
 * `npm ls` first. These tests run the installed
 * report.js exactly as npm's postinstall does (INIT_CWD = the project root) with every way out of the
 * process trapped (http/https requests, raw sockets, child processes): ours opens none; a project
 * without the setting does try to send, which shows the trap would see it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const REPORT = require.resolve('@scarf/scarf/report.js', { paths: [ROOT] });

/** Preloaded into report.js's process: records and blocks every network call and child process. */
const TRAP = `
const fs = require('fs');
const note = (what) => fs.appendFileSync(process.env.TRAP_FILE, what + '\\n');
const block = (what) => { note(what); throw new Error('blocked by test: ' + what); };
for (const mod of ['http', 'https']) {
  const m = require(mod);
  m.request = () => block(mod + '.request');
  m.get = () => block(mod + '.get');
}
const net = require('net');
net.connect = net.createConnection = () => block('net.connect');
require('tls').connect = () => block('tls.connect');
const cp = require('child_process');
cp.exec = (cmd, opts, cb) => { note('exec ' + cmd); (typeof opts === 'function' ? opts : cb)(new Error('blocked by test'), '', ''); };
for (const f of ['spawn', 'execFile', 'fork', 'execSync', 'spawnSync', 'execFileSync']) cp[f] = () => block(f);
`;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-scarf-'));
  fs.writeFileSync(path.join(tmp, 'trap.js'), TRAP);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs report.js as npm's postinstall would for the project at `initCwd`; returns what it tried. */
function postinstall(initCwd: string): { tried: string[]; output: string; status: number | null } {
  const trapFile = path.join(tmp, `trap-${Math.random().toString(36).slice(2)}.log`);
  fs.writeFileSync(trapFile, '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp, INIT_CWD: initCwd, TRAP_FILE: trapFile, SCARF_VERBOSE: 'true' };
  // npm runs lifecycle scripts with npm_execpath set; report.js refuses yarn by looking at it.
  env.npm_execpath = '/usr/lib/node_modules/npm/bin/npm-cli.js';
  // No opt-out through the environment: the setting in package.json alone must do it.
  for (const k of ['SCARF_ANALYTICS', 'SCARF_NO_ANALYTICS', 'DO_NOT_TRACK']) delete env[k];
  const r = spawnSync(process.execPath, ['-r', path.join(tmp, 'trap.js'), REPORT], { cwd: path.dirname(REPORT), env, encoding: 'utf8', timeout: 20_000 });
  return { tried: fs.readFileSync(trapFile, 'utf8').split('\n').filter(Boolean), output: `${r.stdout}${r.stderr}`, status: r.status };
}

test('package.json turns Scarf off, skips its npm ls, and denies its install script', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(pkg.scarfSettings).toEqual({ enabled: false, skipTraversal: true });
  // npm ≥ 11.19 runs no dependency install script without an allowScripts entry; an explicit false
  // (`npm install-scripts deny`) also survives `npm install-scripts approve --all`.
  expect(pkg.allowScripts?.['@scarf/scarf']).toBe(false);
});

test("this project's postinstall of @scarf/scarf opens no connection and runs nothing", () => {
  const r = postinstall(ROOT);
  expect(r.tried).toEqual([]);
  expect(r.output).toContain('User has opted out');
  expect(r.status).toBe(0);
});

test('without the setting the same script does try to send (the trap sees it)', () => {
  const other = fs.mkdtempSync(path.join(tmp, 'project-'));
  // skipTraversal alone: no npm ls, straight to the report, which is opt-out by default.
  fs.writeFileSync(path.join(other, 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0', scarfSettings: { skipTraversal: true } }));
  const r = postinstall(other);
  expect(r.tried).toEqual(['https.request']);
  expect(r.status).toBe(0);
});
