/**
 * Economy routing's cost rule (common/language-routing.ts englishTextDoubted), measured: whisper-tiny.en's
 * own signals on English and non-English 29 s windows (espeak-ng en/en-us/en-gb, de, fr, es, nl; jfk and
 * the diarization clip as real English), and what each step costs on this machine: tiny.en greedy (the
 * probe), tiny.en with temperature fallback, whisper-base language detection. Per window: greedy ms,
 * fallback ms, detect ms | fallback text same as greedy, temperatures | speech-weighted mean avg_logprob,
 * min avg_logprob, max compression ratio, max no-speech prob, doubted | base's detection | text.
 * Run: npx tsx bench/routing-signals.ts (one thread per model; times are one run, compare within it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { englishTextDoubted } from '../common/language-routing';
import { loadWhisper } from '../engine/node-loader';
import { ENGLISH, GERMAN } from '../test/helpers/speech-files';
import { readWav } from '../test/helpers/wav';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-routing-signals-'));
const FRENCH = ['Nous avons planté des tomates dans le jardin au printemps dernier', 'Le train pour la ville part chaque matin à sept heures et demie', 'Ma soeur a acheté un nouveau vélo parce que l ancien a été volé', 'La bibliothèque sera fermée lundi pour la fête nationale', 'Les enfants ont construit un petit château de sable sur la plage', 'Elle lit le journal tous les soirs avant le dîner', 'Le musée ouvre une nouvelle exposition sur les anciens navires', 'Tournez à gauche à l église et la gare est sur votre droite'];
const SPANISH = ['Plantamos tomates y zanahorias en el jardín la primavera pasada', 'El tren a la ciudad sale cada mañana a las siete y media', 'Mi hermana compró una bicicleta nueva porque le robaron la vieja', 'La biblioteca estará cerrada el lunes por la fiesta nacional', 'Los niños construyeron un pequeño castillo de arena en la playa', 'Ella lee el periódico cada tarde antes de la cena', 'El museo abre una nueva exposición sobre barcos antiguos', 'Gire a la izquierda en la iglesia y la estación está a su derecha'];
const DUTCH = ['We hebben vorig voorjaar tomaten en wortels in de tuin geplant', 'De trein naar de stad vertrekt elke ochtend om half acht', 'Mijn zus heeft een nieuwe fiets gekocht omdat de oude gestolen was', 'De bibliotheek is maandag gesloten vanwege de nationale feestdag', 'De kinderen bouwden een klein kasteel van zand op het strand', 'Zij leest elke avond de krant voor het eten', 'Het museum opent volgende week een nieuwe tentoonstelling over oude schepen', 'Sla linksaf bij de kerk en het station is aan uw rechterkant'];

function window(name: string, voice: string, texts: string[], speed = 150): Float32Array {
  const out = path.join(tmp, `${name}.wav`);
  if (!fs.existsSync(out)) {
    const parts: string[] = [];
    texts.forEach((t, i) => {
      const raw = path.join(tmp, `${name}-${i}-raw.wav`);
      execFileSync('espeak-ng', ['-v', voice, '-s', String(speed), '-w', raw, t]);
      const f = path.join(tmp, `${name}-${i}.wav`);
      execFileSync('sox', ['-R', '-D', raw, '-r', '16000', '-c', '1', '-b', '16', f, 'pad', '0', '0.25']);
      parts.push(f);
    });
    execFileSync('sox', [...parts, out, 'trim', '0', '29']);
  }
  return readWav(out);
}
function real(file: string): Float32Array {
  const out = path.join(tmp, path.basename(file) + '.16k.wav');
  if (!fs.existsSync(out)) execFileSync('sox', [file, '-r', '16000', '-c', '1', '-b', '16', out]);
  return readWav(out);
}

(async () => {
  const models = process.env.WHISPER_MODELS_DIR ?? path.resolve(__dirname, '../../shared/models');
  const tiny = await loadWhisper(path.join(models, 'whisper-tiny.en'), { threads: 1, executionProvider: 'cpu' });
  const base = await loadWhisper(path.join(models, 'whisper-base'), { threads: 1, executionProvider: 'cpu' });
  const rot = (a: string[], k: number) => [...a.slice(k), ...a.slice(0, k)];
  const cases: [string, string, Float32Array][] = [
    ['en', 'en0', window('en0', 'en', ENGLISH)],
    ['en', 'en1', window('en1', 'en-us', rot(ENGLISH, 5))],
    ['en', 'en2', window('en2', 'en-gb-x-rp', rot(ENGLISH, 9), 175)],
    ['en', 'en3', window('en3', 'en', rot(ENGLISH, 12), 120)],
    ['en', 'jfk', real(path.resolve(__dirname, '../../shared/audio/jfk.wav'))],
    ['en', 'diar', real(path.resolve(__dirname, '../../shared/audio/stereo_diarization.wav'))],
    ['de', 'de0', window('de0', 'de', GERMAN)],
    ['de', 'de1', window('de1', 'de', rot(GERMAN, 4), 175)],
    ['de', 'de2', window('de2', 'de', rot(GERMAN, 8), 120)],
    ['fr', 'fr0', window('fr0', 'fr', FRENCH)],
    ['es', 'es0', window('es0', 'es', SPANISH)],
    ['nl', 'nl0', window('nl0', 'nl', DUTCH)],
  ];
  // warm
  await tiny.transcribe(cases[4][2].slice(), { language: 'en' });
  await base.detectLanguage(cases[4][2]);
  console.log('lang name secs | tiny_ms base_detect_ms | wmean_logprob min_logprob max_cr max_nsp temps | detected p | text');
  for (const [lang, name, x] of cases) {
    let t0 = performance.now();
    const r = await tiny.transcribe(x.slice(), { language: 'en', fallback: false }); const greedyMs = performance.now() - t0; const rf = await tiny.transcribe(x.slice(), { language: 'en' }); const fbMs = performance.now() - t0 - greedyMs;
    t0 = performance.now();
    const d = await base.detectLanguage(x);
    const detMs = performance.now() - t0;
    const segs = r.segments;
    const w = segs.reduce((a, s) => a + Math.max(0.01, s.end - s.start), 0);
    const wmean = segs.reduce((a, s) => a + s.avgLogprob * Math.max(0.01, s.end - s.start), 0) / w;
    const minLp = Math.min(...segs.map((s) => s.avgLogprob));
    const maxCr = Math.max(...segs.map((s) => s.compressionRatio));
    const maxNsp = Math.max(...segs.map((s) => s.noSpeechProb));
    console.log(
      `${lang} ${name} | greedy ${greedyMs.toFixed(0)} fallback ${fbMs.toFixed(0)} detect ${detMs.toFixed(0)} | same ${rf.segments.map((s) => s.text).join('') === r.segments.map((s) => s.text).join('')} ${JSON.stringify(rf.temperatures)} | ${wmean.toFixed(3)} ${minLp.toFixed(3)} ${maxCr.toFixed(2)} ${maxNsp.toFixed(3)} ${englishTextDoubted(segs)} | ${d.language} ${d.probability.toFixed(3)} | ${r.segments.map((s) => s.text).join('').slice(0, 90)}`,
    );
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
})();
