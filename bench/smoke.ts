import { loadWhisper } from '../engine/node-loader';
import { decodeToPcm, readPcm } from '../audio/ffmpeg';
(async () => {
  const file = process.argv[2] ?? '/work/shared/audio/jfk.flac';
  const model = process.argv[3] ?? 'whisper-tiny.en';
  await decodeToPcm(file, '/tmp/smoke.f32');
  const pcm = readPcm('/tmp/smoke.f32');
  const t = await loadWhisper('/work/shared/models/' + model, { threads: 2, executionProvider: 'cpu' });
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await t.transcribe(pcm, { language: null });
    console.log(((performance.now() - t0) / 1000).toFixed(3), 's', JSON.stringify(r.segments.map(s => [s.start, s.end, s.text])), r.language, r.languageProbability);
  }
})();
