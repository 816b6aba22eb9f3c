# Sourced by infra/setup.sh: whether `npm ci` must run, decided by the content of package-lock.json, never by file
# times. A worktree whose node_modules is hard-linked from another checkout (cp -al) keeps the files' old mtimes while
# git writes package-lock.json afresh, so "package-lock.json newer than node_modules" reinstalled for nothing.
# Functions act on the current directory (the repository root).

# Written after a successful `npm ci`: the sha256 (hex) of the package-lock.json it installed.
NPM_LOCK_STAMP=node_modules/.fairscribe-lock-hash

# Prints the sha256 (hex) of ./package-lock.json.
npm_lock_hash() {
  node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync("package-lock.json")).digest("hex"))'
}

# Exit status 0 when node_modules must be installed with `npm ci`, 1 when it already holds what package-lock.json
# names:
#   - no node_modules: install;
#   - the stamp of the last `npm ci` (NPM_LOCK_STAMP): install when its hash differs from package-lock.json's;
#   - no stamp (installed before the stamp existed, or by npm itself): compare with npm's own record of what it
#     installed, node_modules/.package-lock.json (npm docs "package-lock.json": the hidden lockfile): every package
#     there must be in package-lock.json with the same version, resolved and integrity, and every package of
#     package-lock.json must be there, but for optional ones (npm skips those of other platforms, e.g.
#     @esbuild/darwin-arm64 on linux). No hidden lockfile: install.
npm_ci_needed() {
  [[ -d node_modules ]] || return 0
  if [[ -f "$NPM_LOCK_STAMP" ]]; then
    [[ "$(cat "$NPM_LOCK_STAMP")" != "$(npm_lock_hash)" ]]
    return
  fi
  [[ -f node_modules/.package-lock.json ]] || return 0
  ! node -e '
    const want = require(require("path").resolve("package-lock.json")).packages ?? {};
    const have = require(require("path").resolve("node_modules/.package-lock.json")).packages ?? {};
    const same = (a, b) => ["version", "resolved", "integrity", "link"].every((k) => a[k] === b[k]);
    const ok =
      Object.entries(have).every(([p, h]) => want[p] !== undefined && same(want[p], h)) &&
      Object.entries(want).every(([p, w]) => p === "" || have[p] !== undefined || w.optional === true);
    process.exit(ok ? 0 : 1);
  '
}

# Records that node_modules now holds package-lock.json's packages (call after `npm ci` succeeded).
npm_ci_stamp() {
  npm_lock_hash > "$NPM_LOCK_STAMP"
}
