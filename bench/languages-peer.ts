/**
 * faster-whisper on the English-then-German file of test/integration/languages.test.ts (same espeak-ng
 * build: test/helpers/speech-files.ts), whisper-base on its original CTranslate2 weights, greedy, no
 * language, `multilingual=True` (a language detected per 30 s window, faster_whisper/transcribe.py
 * generate_segments) with and without its Silero VAD filter, and without `multilingual` (the first
 * window's language for the whole file). Ours is the integration test's printout on the same file.
 * Outside CI; needs `bash bench/setup-peers.sh`:
 *   npx tsx bench/languages-peer.ts [--keep DIR]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { BENCH_CACHE, VENV_PYTHON } from './lib';
import { makeEnglishThenGerman } from '../test/helpers/speech-files';

const PY = `
import sys, json, time
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=2)
for name, kw in [("multilingual", dict(multilingual=True)), ("multilingual+vad", dict(multilingual=True, vad_filter=True)), ("first window only", {})]:
    t0 = time.time()
    segments, info = model.transcribe(sys.argv[2], beam_size=1, temperature=0.0, condition_on_previous_text=False, **kw)
    segs = list(segments)
    print(json.dumps({"run": name, "seconds": round(time.time() - t0, 1), "language": info.language, "probability": round(info.language_probability, 4),
                      "segments": [{"start": round(s.start, 1), "end": round(s.end, 1), "text": s.text.strip()} for s in segs]}), flush=True)
`;

function main() {
  const keep = process.argv.indexOf('--keep');
  const dir = keep > 0 ? process.argv[keep + 1] : fs.mkdtempSync(path.join(os.tmpdir(), 'fs-lang-peer-'));
  fs.mkdirSync(dir, { recursive: true });
  const { file, switchAt } = makeEnglishThenGerman(dir);
  console.log(`file ${file}, switch at ${switchAt.toFixed(1)} s`);
  const out = execFileSync(VENV_PYTHON, ['-c', PY, path.join(BENCH_CACHE, 'ct2', 'whisper-base'), file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { run: string; seconds: number; language: string; probability: number; segments: { start: number; end: number; text: string }[] };
    console.log(`\nfaster-whisper base, ${r.run}: ${r.seconds} s; info.language ${r.language} ${r.probability}`);
    for (const s of r.segments) console.log(`  ${s.start.toFixed(1)}–${s.end.toFixed(1)} ${s.text}`);
  }
  if (keep < 0) fs.rmSync(dir, { recursive: true, force: true });
}

main();
