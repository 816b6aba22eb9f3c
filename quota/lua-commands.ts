/**
 * The quota store's Redis commands, loaded from quota/lua the way BullMQ loads its own
 * (taskforcesh/bullmq, src/commands/script-loader.ts):
 * - a script's file name is `<command>-<numberOfKeys>.lua`, so the key count that ioredis's
 *   `defineCommand` needs sits next to the KEYS the script reads instead of in a second place;
 * - a line `--- @include "includes/<fragment>"` (the `.lua` may be left off; the path is relative to
 *   the including file) is replaced by that fragment, itself expanded, the first time a script includes
 *   it and by nothing after that, so a fragment included twice through two others is defined once.
 *   Fragments live in quota/lua/includes/ and are never commands themselves.
 * A missing fragment, an include cycle or a file name without a key count is an error at load time,
 * not a Redis error on the first call.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Redis } from 'ioredis';

export const LUA_DIR = path.join(__dirname, 'lua');

/** One script ready for `redis.defineCommand(name, { numberOfKeys, lua })`. */
export interface LuaCommand {
  /** the ioredis method name: `fs` + the file's command, capitalised (`reserve-3.lua` → `fsReserve`) */
  name: string;
  /** KEYS the script reads, from the file name */
  numberOfKeys: number;
  /** the script with its includes expanded */
  lua: string;
  /** the file it came from, absolute */
  file: string;
}

/** `<command>-<numberOfKeys>.lua`, command in camelCase (BullMQ's rule). */
const FILE_NAME_RE = /^([a-z][A-Za-z0-9]*)-(\d+)\.lua$/;

/** BullMQ's include syntax: two or three dashes, `@include`, a quoted path, alone on its line. */
const INCLUDE_RE = /^-{2,3}[ \t]*@include[ \t]+(["'])(.+?)\1[ \t;]*$/gm;

export class LuaLoadError extends Error {}

/**
 * Expands the includes of one Lua file.
 * @param file absolute path of a `.lua` file
 * @param included fragments already written into this script (absolute paths), shared across the recursion
 * @param stack the chain of files being expanded, for cycle detection
 * @throws LuaLoadError for a missing fragment or a cycle
 */
function expand(file: string, included: Set<string>, stack: string[]): string {
  if (stack.includes(file)) {
    throw new LuaLoadError(`Lua include cycle: ${[...stack, file].map((f) => path.relative(LUA_DIR, f)).join(' → ')}`);
  }
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    const from = stack.length ? ` (included from ${stack[stack.length - 1]})` : '';
    throw new LuaLoadError(`Lua file not found: ${file}${from}`);
  }
  return source.replace(INCLUDE_RE, (_line, _quote: string, ref: string) => {
    const target = path.resolve(path.dirname(file), ref.endsWith('.lua') ? ref : `${ref}.lua`);
    // A cycle is an error even when its fragment was written already: it could not be ordered.
    if (stack.includes(target) || target === file) return expand(target, included, [...stack, file]);
    if (included.has(target)) return '';
    included.add(target);
    return expand(target, included, [...stack, file]).trimEnd();
  });
}

/**
 * Loads one command script.
 * @param file absolute path of `<command>-<numberOfKeys>.lua`
 * @throws LuaLoadError when the name has no key count, or an include is missing or cyclic
 */
export function loadLuaCommand(file: string): LuaCommand {
  const m = FILE_NAME_RE.exec(path.basename(file));
  if (!m) throw new LuaLoadError(`Lua command file must be named <command>-<numberOfKeys>.lua: ${file}`);
  return {
    name: `fs${m[1][0].toUpperCase()}${m[1].slice(1)}`,
    numberOfKeys: Number(m[2]),
    lua: expand(path.resolve(file), new Set(), []),
    file: path.resolve(file),
  };
}

/** Every command script in `dir` (not its includes/), by name; read once per directory per process. */
const cache = new Map<string, Map<string, LuaCommand>>();

export function loadLuaCommands(dir: string = LUA_DIR): Map<string, LuaCommand> {
  let commands = cache.get(dir);
  if (!commands) {
    commands = new Map();
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.lua')) continue;
      const c = loadLuaCommand(path.join(dir, entry.name));
      if (commands.has(c.name)) throw new LuaLoadError(`two Lua files define ${c.name}: ${commands.get(c.name)!.file}, ${c.file}`);
      commands.set(c.name, c);
    }
    cache.set(dir, commands);
  }
  return commands;
}

/**
 * Defines every command of quota/lua on `redis` (ioredis sends EVALSHA and falls back to EVAL once per
 * connection, so each script travels once). Defining a command again on the same client replaces it
 * with the same script: harmless.
 */
export function defineLuaCommands(redis: Redis, dir: string = LUA_DIR): void {
  for (const c of loadLuaCommands(dir).values()) redis.defineCommand(c.name, { numberOfKeys: c.numberOfKeys, lua: c.lua });
}
