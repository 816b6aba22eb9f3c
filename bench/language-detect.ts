/**
 * Language-detection probabilities of whisper-base (openai/whisper `detect_language`, engine/transcriber.ts)
 * on real speech (../shared/audio) and espeak-ng speech in en/de/fr/es, at window lengths from one short
 * sentence to a full 30 s window, and on non-speech (pink noise, tones): the measurement behind
 * LANGUAGE_SURE_PROBABILITY (common/window-languages.ts). Outside CI:
 *   npx tsx bench/language-detect.ts
 * Prints one line per clip (language, probability) and, per kind, the lowest probability on speech.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadWhisper } from '../engine/node-loader';

const SR = 16000;
const MODELS = process.env.WHISPER_MODELS_DIR ?? path.resolve(__dirname, '../../shared/models');
const AUDIO = path.resolve(__dirname, '../../shared/audio');

/** Sentences per espeak-ng voice (each voice reads its own language). */
const TEXTS: Record<string, string[]> = {
  en: [
    'We planted tomatoes and carrots in the garden last spring.',
    'Please remember to turn off the lights when you leave the house.',
    'The train to the city leaves every morning at half past seven.',
    'My sister bought a new bicycle because the old one was stolen.',
    'After the meeting we walked down to the river and had lunch together.',
    'The library will be closed on Monday for the national holiday.',
  ],
  de: [
    'Wir haben im letzten Frühling Tomaten und Karotten im Garten gepflanzt.',
    'Bitte denk daran, das Licht auszuschalten, wenn du das Haus verlässt.',
    'Der Zug in die Stadt fährt jeden Morgen um halb acht ab.',
    'Meine Schwester hat ein neues Fahrrad gekauft, weil das alte gestohlen wurde.',
    'Nach der Besprechung sind wir zum Fluss gegangen und haben zusammen gegessen.',
    'Die Bibliothek bleibt am Montag wegen des Feiertags geschlossen.',
  ],
  fr: [
    'Nous avons planté des tomates et des carottes dans le jardin au printemps dernier.',
    "N'oublie pas d'éteindre la lumière quand tu quittes la maison.",
    'Le train pour la ville part tous les matins à sept heures et demie.',
    'Ma sœur a acheté un nouveau vélo parce que l’ancien a été volé.',
    'Après la réunion, nous sommes descendus à la rivière pour déjeuner ensemble.',
    'La bibliothèque sera fermée lundi pour la fête nationale.',
  ],
  es: [
    'Plantamos tomates y zanahorias en el jardín la primavera pasada.',
    'Por favor, recuerda apagar las luces cuando salgas de casa.',
    'El tren a la ciudad sale todas las mañanas a las siete y media.',
    'Mi hermana compró una bicicleta nueva porque le robaron la vieja.',
    'Después de la reunión bajamos al río y comimos juntos.',
    'La biblioteca estará cerrada el lunes por el día festivo.',
  ],
};

function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Raw float32 16 kHz mono samples of any audio file (ffmpeg). */
function pcm(file: string, channel?: number): Float32Array {
  const pan = channel === undefined ? ['-ac', '1'] : ['-af', `pan=mono|c0=c${channel}`];
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', file, ...pan, '-ar', String(SR), '-f', 'f32le', '-'], { maxBuffer: 1 << 28 });
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-langdet-'));
  const engine = await loadWhisper(path.join(MODELS, 'whisper-base'), { threads: 2, executionProvider: 'cpu' });
  const rows: { kind: string; clip: string; expected: string | null; seconds: number; language: string; probability: number }[] = [];
  const detect = async (kind: string, clip: string, expected: string | null, samples: Float32Array) => {
    const r = await engine.detectLanguage(samples);
    rows.push({ kind, clip, expected, seconds: samples.length / SR, ...r });
    console.log(`${kind.padEnd(8)} ${clip.padEnd(28)} ${(samples.length / SR).toFixed(1).padStart(5)} s  expected ${String(expected).padEnd(4)} → ${r.language.padEnd(4)} ${r.probability.toFixed(3)}`);
  };
  await detect('real', 'jfk.wav', 'en', pcm(path.join(AUDIO, 'jfk.wav')));
  await detect('real', 'jfk.flac', 'en', pcm(path.join(AUDIO, 'jfk.flac')));
  await detect('real', 'stereo_diarization L', 'en', pcm(path.join(AUDIO, 'stereo_diarization.wav'), 0));
  await detect('real', 'stereo_diarization R', 'en', pcm(path.join(AUDIO, 'stereo_diarization.wav'), 1));
  for (const [lang, texts] of Object.entries(TEXTS)) {
    const sentences = texts.map((t, i) => {
      const raw = path.join(tmp, `${lang}-${i}-raw.wav`);
      const out = path.join(tmp, `${lang}-${i}.wav`);
      run('espeak-ng', ['-v', lang, '-s', '150', '-w', raw, t]);
      run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', out]);
      return out;
    });
    // one sentence alone (a short window: 3–5 s), two sentences, and all six (a full window, ≤ 30 s)
    for (let i = 0; i < 3; i++) await detect('espeak', `${lang} sentence ${i + 1}`, lang, pcm(sentences[i]));
    const two = path.join(tmp, `${lang}-two.wav`);
    run('sox', [sentences[3], sentences[4], two]);
    await detect('espeak', `${lang} two sentences`, lang, pcm(two));
    const all = path.join(tmp, `${lang}-all.wav`);
    run('sox', [...sentences, all]);
    await detect('espeak', `${lang} six sentences`, lang, pcm(all).subarray(0, 30 * SR));
  }
  // Non-speech: what detection says when it reads no speech (VAD keeps such windows from detection).
  for (const [name, synth] of [['pink noise', ['pinknoise']], ['brown noise', ['brownnoise']], ['tones', ['sine', '440', 'sine', '660']]] as const) {
    const f = path.join(tmp, `${name.replace(' ', '-')}.wav`);
    run('sox', ['-n', '-r', String(SR), '-c', '1', '-b', '16', f, 'synth', '20', ...synth, 'vol', '0.3']);
    await detect('noise', name, null, pcm(f));
  }
  await engine.model.release();
  fs.rmSync(tmp, { recursive: true, force: true });
  const speech = rows.filter((r) => r.expected);
  const wrong = speech.filter((r) => r.language !== r.expected);
  const right = speech.filter((r) => r.language === r.expected);
  console.log(`\nspeech clips: ${speech.length}, right ${right.length}, wrong ${wrong.length}`);
  console.log(`lowest probability when right: ${Math.min(...right.map((r) => r.probability)).toFixed(3)}`);
  console.log(`highest probability when wrong: ${wrong.length ? Math.max(...wrong.map((r) => r.probability)).toFixed(3) : 'none'}`);
  const noise = rows.filter((r) => !r.expected);
  console.log(`non-speech: ${noise.map((r) => `${r.clip} → ${r.language} ${r.probability.toFixed(3)}`).join(', ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
