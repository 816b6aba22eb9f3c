#!/usr/bin/env bash
# `npm run demo [-- FILE] [--keep]`: set up, start the stack, transcribe FILE (default
# ../shared/audio/jfk.flac) through the HTTP API, print the transcript, the job id and the Temporal UI
# link, then stop what it started (--keep leaves the stack running).
set -euo pipefail
cd "$(dirname "$0")/.."

file=../shared/audio/jfk.flac
keep=0
usage='usage: npm run demo [-- FILE] [--keep]'
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "demo: unknown option $a" >&2; echo "$usage" >&2; exit 2 ;;
    *) file="$a" ;;
  esac
done
[[ -f "$file" ]] || { echo "demo: no such file: $file" >&2; exit 2; }

bash infra/setup.sh

# Why the stack did not come up: the end of its log without JavaScript stack frames (the sentences say what to do;
# the whole log stays in .data/stack.log).
why() { tail -n 60 .data/stack.log | grep -Ev '^[[:space:]]+at |^[[:space:]]*[]}][,]?$|\[errors\]: \[$' | tail -n 20 >&2; echo "[demo] full log: .data/stack.log" >&2; }

started=0
stack_pid=""
cleanup() {
  if [[ $started == 1 && $keep == 0 && -n "$stack_pid" ]]; then
    echo "[demo] stopping the stack" >&2
    kill -TERM "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [[ -f .data/stack.json ]] && curl -sf "$(node -p 'require("./.data/stack.json").apiUrl')/healthz" >/dev/null 2>&1; then
  echo "[demo] using the running stack" >&2
else
  echo "[demo] starting the stack (logs: .data/stack.log)" >&2
  mkdir -p .data
  rm -f .data/stack.json
  if [[ $keep == 1 ]]; then
    nohup ./node_modules/.bin/tsx infra/stack.ts >.data/stack.log 2>&1 &
  else
    ./node_modules/.bin/tsx infra/stack.ts >.data/stack.log 2>&1 &
  fi
  stack_pid=$!
  started=1
  for _ in $(seq 1 240); do
    [[ -f .data/stack.json ]] && break
    kill -0 "$stack_pid" 2>/dev/null || { echo "[demo] the stack failed to start:" >&2; why; exit 1; }
    sleep 0.5
  done
  [[ -f .data/stack.json ]] || { echo "[demo] the stack did not become ready in 120 s" >&2; why; exit 1; }
fi

out="$(./node_modules/.bin/tsx api/cli/transcribe.ts "$file" --json)"
node -e '
  const job = JSON.parse(process.argv[1]);
  const stack = require("./.data/stack.json");
  if (job.status !== "completed") { console.error(`job ${job.id} ${job.status}: ${job.error?.message ?? ""}`); process.exit(1); }
  console.log(job.text);
  console.log(`job: ${job.id}`);
  console.log(`ui: ${stack.uiUrl}/namespaces/default/workflows/transcription-${job.id}`);
' "$out"
if [[ $keep == 1 ]]; then
  echo "[demo] the stack keeps running (pid ${stack_pid:-already running}); stop it with: kill -TERM ${stack_pid:-<pid>}" >&2
fi
