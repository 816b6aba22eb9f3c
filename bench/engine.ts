/**
 * `npm run bench:engine [-- --model whisper-tiny.en --runs 5 --threads 2]`: our engine's real-time factor,
 * warm (model load excluded), median of N runs, on jfk.flac (11 s) and jfk three times (33 s).
 * RTF = processing seconds / audio seconds (lower is faster); RTFx = its inverse.
 * Peers (transformers.js, faster-whisper, the bare-ORT limit) join this benchmark with the engine issue.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { decodeToPcm, readPcm } from '../audio/ffmpeg';
import { loadConfig } from '../common/config';
import { SAMPLE_RATE } from '../engine/constants';
import { loadWhisper } from '../engine/node-loader';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'whisper-tiny.en' },
      runs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
    },
  });
  const config = loadConfig();
  const runs = Number(values.runs);
  const jfk = path.join(config.modelsDir, '..', 'audio', 'jfk.flac');
  const tmp = os.tmpdir();
  const triple = path.join(tmp, 'bench-jfk3.wav');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', jfk, '-i', jfk, '-i', jfk, '-filter_complex', 'concat=n=3:v=0:a=1', triple]);
  const t0 = performance.now();
  const engine = await loadWhisper(path.join(config.modelsDir, values.model!), {
    threads: Number(values.threads),
    executionProvider: 'cpu',
  });
  console.log(`model ${values.model}, ${values.threads} threads, load ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  for (const [name, file] of [['jfk.flac', jfk], ['jfk×3', triple]] as const) {
    const pcmFile = path.join(tmp, `bench-${name}.f32`);
    await decodeToPcm(file, pcmFile);
    const pcm = readPcm(pcmFile);
    const seconds = pcm.length / SAMPLE_RATE;
    await engine.transcribe(pcm); // warm-up
    const times: number[] = [];
    let text = '';
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      const r = await engine.transcribe(pcm);
      times.push((performance.now() - s) / 1000);
      text = r.segments.map((x) => x.text).join(' ');
    }
    const m = median(times);
    console.log(
      `${name.padEnd(9)} ${seconds.toFixed(1)} s audio: median ${m.toFixed(3)} s over ${runs} runs ` +
        `(min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}), RTF ${(m / seconds).toFixed(4)}, RTFx ${(seconds / m).toFixed(1)}`,
    );
    console.log(`          text: ${text.slice(0, 100)}${text.length > 100 ? '…' : ''}`);
  }
  await engine.model.release();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
