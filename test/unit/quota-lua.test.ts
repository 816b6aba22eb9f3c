/**
 * quota/lua-commands.ts: commands named and keyed by their file names (`<command>-<numberOfKeys>.lua`,
 * BullMQ's rule), `--- @include` fragments expanded once each, and load-time errors for a bad name, a
 * missing fragment or a cycle. Also checks quota/lua itself: each script reads no KEYS beyond its key
 * count, and every script a header names exists. (Running the scripts on Redis:
 * test/integration/quota.test.ts and quota-service.test.ts.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LUA_DIR, LuaLoadError, loadLuaCommand, loadLuaCommands } from '../../quota/lua-commands';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-lua-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes files under a fresh folder of tmp; returns that folder. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'case-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('quota/lua as loaded', () => {
  const commands = loadLuaCommands();

  test('one command per file, named and keyed by the file name', () => {
    expect([...commands.values()].map((c) => [c.name, c.numberOfKeys, path.basename(c.file)]).sort()).toEqual([
      ['fsExtend', 3, 'extend-3.lua'],
      ['fsRebuild', 0, 'rebuild-0.lua'],
      ['fsReserve', 3, 'reserve-3.lua'],
      ['fsSettle', 4, 'settle-4.lua'],
    ]);
  });

  test('each script reads KEYS[1..numberOfKeys] and no further', () => {
    for (const c of commands.values()) {
      const used = [...c.lua.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect([c.name, Math.max(0, ...used)]).toEqual([c.name, c.numberOfKeys]);
    }
  });

  test('includes are expanded: no directive left, each shared fragment defined once where used', () => {
    for (const c of commands.values()) expect([c.name, /@include/.test(c.lua)]).toEqual([c.name, false]);
    const defs = (name: string, fn: string) => (commands.get(name)!.lua.match(new RegExp(`local function ${fn}\\(`, 'g')) ?? []).length;
    expect([defs('fsReserve', 'addToDay'), defs('fsExtend', 'addToDay')]).toEqual([1, 1]);
    expect([defs('fsSettle', 'refundToDay'), defs('fsRebuild', 'refundToDay')]).toEqual([1, 1]);
    // The daily-limit comparison is written once, in the fragment.
    const sources = fs.readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => fs.readFileSync(path.join(LUA_DIR, f), 'utf8'));
    expect(sources.filter((s) => s.includes('dailyLimit >= 0 and'))).toEqual([]);
  });

  test('every script a Lua header names exists (renamed scripts leave no stale names)', () => {
    const files = new Set(fs.readdirSync(LUA_DIR));
    const texts = [LUA_DIR, path.join(LUA_DIR, 'includes')].flatMap((d) =>
      fs.readdirSync(d).filter((f) => f.endsWith('.lua')).map((f) => fs.readFileSync(path.join(d, f), 'utf8')),
    );
    const named = texts.flatMap((t) => [...t.matchAll(/\b([a-z][A-Za-z]*-\d+\.lua)\b/g)].map((m) => m[1]));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !files.has(n))).toEqual([]);
  });
});

describe('the loader', () => {
  test('nested includes, relative paths with or without .lua, each fragment once, in place', () => {
    const dir = tree({
      'doThing-2.lua': '-- head\n--- @include "includes/a"\n---@include \'includes/b.lua\'\nreturn a() + b()\n',
      'includes/a.lua': '--- @include "c"\nlocal function a() return c() end\n',
      'includes/b.lua': '--- @include "c.lua"\nlocal function b() return c() * 2 end\n',
      'includes/c.lua': 'local function c() return 1 end\n',
    });
    const c = loadLuaCommand(path.join(dir, 'doThing-2.lua'));
    expect(c).toMatchObject({ name: 'fsDoThing', numberOfKeys: 2 });
    expect(c.lua.split('\n').filter((l) => l.trim())).toEqual([
      '-- head',
      'local function c() return 1 end',
      'local function a() return c() end',
      'local function b() return c() * 2 end',
      'return a() + b()',
    ]);
  });

  test('a file name without a key count is refused', () => {
    const dir = tree({ 'reserve.lua': 'return 1\n', 'Bad-1.lua': 'return 1\n' });
    expect(() => loadLuaCommand(path.join(dir, 'reserve.lua'))).toThrow(LuaLoadError);
    expect(() => loadLuaCommand(path.join(dir, 'Bad-1.lua'))).toThrow(/<command>-<numberOfKeys>\.lua/);
  });

  test('a missing fragment is an error naming it', () => {
    const dir = tree({ 'x-0.lua': '--- @include "includes/nope"\nreturn 1\n' });
    expect(() => loadLuaCommand(path.join(dir, 'x-0.lua'))).toThrow(/not found: .*includes\/nope\.lua/);
  });

  test('an include cycle is an error, a self-include too', () => {
    const dir = tree({
      'x-0.lua': '--- @include "includes/a"\nreturn 1\n',
      'includes/a.lua': '--- @include "b"\n',
      'includes/b.lua': '--- @include "a"\n',
      'y-0.lua': '--- @include "y-0"\n',
    });
    expect(() => loadLuaCommand(path.join(dir, 'x-0.lua'))).toThrow(/cycle/);
    expect(() => loadLuaCommand(path.join(dir, 'y-0.lua'))).toThrow(/cycle/);
  });

  test('a folder: every command file, fragments not loaded as commands, two files of one command refused', () => {
    const dir = tree({ 'one-1.lua': 'return KEYS[1]\n', 'two-0.lua': 'return 2\n', 'includes/frag.lua': 'local x = 1\n' });
    expect([...loadLuaCommands(dir).keys()].sort()).toEqual(['fsOne', 'fsTwo']);
    const dup = tree({ 'one-1.lua': 'return 1\n', 'one-2.lua': 'return 2\n' });
    expect(() => loadLuaCommands(dup)).toThrow(/two Lua files define fsOne/);
  });
});
