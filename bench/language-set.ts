/**
 * The language-identification set of bench/language-detect.ts (issue #17 "keeps each language"), written once to a
 * folder so that our engine and the faster-whisper peer (bench/peers/faster_whisper_langdetect.py) read the same files:
 *
 * - espeak-ng speech (`-v fr|de|es|it|nl|pt|en`, 150 words/min): per language four *short* clips (one sentence,
 *   2–4 s) and two *medium* ones (three sentences, 8–15 s);
 * - the real recordings of ../shared/audio (all English; references in its README): jfk.wav, jfk.flac,
 *   stereo_diarization.wav's left and right channels;
 * - each clip in three conditions: `clean`; `phone` (telephone band: sox to 8 kHz and back to 16 kHz); `noise`
 *   (3 s of pink noise before the speech, and the same noise on under the speech: sox `pinknoise vol 0.05`).
 *
 * Every file is 16 kHz mono s16le WAV. manifest.json lists {file, language, length, condition, source}. The build is
 * repeatable (sox -R, `run`): two folders hold the same clips byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export const SR = 16000;

/** Four short sentences (2–4 s each) and six longer ones (three make a medium clip) per espeak-ng voice. */
export const TEXTS: Record<string, { short: string[]; long: string[] }> = {
  en: {
    short: ['The cat is sleeping on the sofa in the living room.', 'It is very cold outside this morning.', 'We are going to the market tomorrow.', 'Please close the door behind you.'],
    long: [
      'We planted tomatoes and carrots in the garden last spring.',
      'Please remember to turn off the lights when you leave the house.',
      'The train to the city leaves every morning at half past seven.',
      'My sister bought a new bicycle because the old one was stolen.',
      'After the meeting we walked down to the river and had lunch together.',
      'The library will be closed on Monday for the national holiday.',
    ],
  },
  de: {
    short: ['Die Katze schläft auf dem Sofa im Wohnzimmer.', 'Heute Morgen ist es draußen sehr kalt.', 'Wir gehen morgen auf den Markt.', 'Bitte schließ die Tür hinter dir.'],
    long: [
      'Wir haben im letzten Frühling Tomaten und Karotten im Garten gepflanzt.',
      'Bitte denk daran, das Licht auszuschalten, wenn du das Haus verlässt.',
      'Der Zug in die Stadt fährt jeden Morgen um halb acht ab.',
      'Meine Schwester hat ein neues Fahrrad gekauft, weil das alte gestohlen wurde.',
      'Nach der Besprechung sind wir zum Fluss gegangen und haben zusammen gegessen.',
      'Die Bibliothek bleibt am Montag wegen des Feiertags geschlossen.',
    ],
  },
  fr: {
    short: ['Le chat dort sur le canapé du salon.', 'Il fait très froid dehors ce matin.', 'Nous allons au marché demain.', "Ferme la porte derrière toi, s'il te plaît."],
    long: [
      'Nous avons planté des tomates et des carottes dans le jardin au printemps dernier.',
      "N'oublie pas d'éteindre la lumière quand tu quittes la maison.",
      'Le train pour la ville part tous les matins à sept heures et demie.',
      'Ma sœur a acheté un nouveau vélo parce que l’ancien a été volé.',
      'Après la réunion, nous sommes descendus à la rivière pour déjeuner ensemble.',
      'La bibliothèque sera fermée lundi pour la fête nationale.',
    ],
  },
  es: {
    short: ['El gato duerme en el sofá del salón.', 'Hace mucho frío afuera esta mañana.', 'Mañana vamos al mercado.', 'Por favor, cierra la puerta detrás de ti.'],
    long: [
      'Plantamos tomates y zanahorias en el jardín la primavera pasada.',
      'Por favor, recuerda apagar las luces cuando salgas de casa.',
      'El tren a la ciudad sale todas las mañanas a las siete y media.',
      'Mi hermana compró una bicicleta nueva porque le robaron la vieja.',
      'Después de la reunión bajamos al río y comimos juntos.',
      'La biblioteca estará cerrada el lunes por el día festivo.',
    ],
  },
  it: {
    short: ['Il gatto dorme sul divano del salotto.', 'Stamattina fa molto freddo fuori.', 'Domani andiamo al mercato.', 'Per favore, chiudi la porta dietro di te.'],
    long: [
      'Abbiamo piantato pomodori e carote nel giardino la primavera scorsa.',
      'Per favore ricordati di spegnere le luci quando esci di casa.',
      'Il treno per la città parte ogni mattina alle sette e mezza.',
      'Mia sorella ha comprato una bicicletta nuova perché la vecchia è stata rubata.',
      'Dopo la riunione siamo scesi al fiume e abbiamo pranzato insieme.',
      'La biblioteca sarà chiusa lunedì per la festa nazionale.',
    ],
  },
  nl: {
    short: ['De kat slaapt op de bank in de woonkamer.', 'Het is vanochtend erg koud buiten.', 'Morgen gaan we naar de markt.', 'Doe alsjeblieft de deur achter je dicht.'],
    long: [
      'We hebben afgelopen voorjaar tomaten en wortels in de tuin geplant.',
      'Vergeet alsjeblieft niet het licht uit te doen als je het huis verlaat.',
      'De trein naar de stad vertrekt elke ochtend om half acht.',
      'Mijn zus heeft een nieuwe fiets gekocht omdat de oude gestolen is.',
      'Na de vergadering zijn we naar de rivier gelopen en hebben samen geluncht.',
      'De bibliotheek is maandag gesloten vanwege de nationale feestdag.',
    ],
  },
  pt: {
    short: ['O gato está a dormir no sofá da sala.', 'Está muito frio lá fora esta manhã.', 'Amanhã vamos ao mercado.', 'Por favor, fecha a porta atrás de ti.'],
    long: [
      'Plantámos tomates e cenouras no jardim na primavera passada.',
      'Por favor, lembra-te de apagar as luzes quando saíres de casa.',
      'O comboio para a cidade parte todas as manhãs às sete e meia.',
      'A minha irmã comprou uma bicicleta nova porque a velha foi roubada.',
      'Depois da reunião descemos ao rio e almoçámos juntos.',
      'A biblioteca vai estar fechada na segunda-feira por causa do feriado nacional.',
    ],
  },
};

export const CONDITIONS = ['clean', 'phone', 'noise'] as const;
export type Condition = (typeof CONDITIONS)[number];

export interface Clip {
  /** path relative to the set folder */
  file: string;
  /** ISO 639-1 of the speech */
  language: string;
  length: 'short' | 'medium' | 'real';
  condition: Condition;
  /** what was spoken or which recording */
  source: string;
  /** seconds */
  seconds: number;
}

/**
 * Runs a tool of the set's recipe. sox runs with `-R` (its global "repeatable" option: a fixed seed for the pink
 * noise and for the dither it adds when the rate effect writes 16 bits), so every build of the set is the same
 * file for file: runs in different folders, or on different days, detect the same clips.
 */
function run(cmd: string, args: string[]): void {
  execFileSync(cmd, cmd === 'sox' ? ['-R', ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function seconds(file: string): number {
  return Number(execFileSync('soxi', ['-D', file]).toString().trim());
}

/** The conditions of one clean 16 kHz mono file: the clean file itself, telephone band, pink noise before and under. */
function conditions(dir: string, clean: string): Record<Condition, string> {
  const base = clean.replace(/\.wav$/, '');
  const phone = `${base}.phone.wav`;
  // telephone band: down to 8 kHz (sox's rate filter removes everything above 4 kHz) and back to 16 kHz
  const narrow = `${base}.8k.wav`;
  run('sox', [path.join(dir, clean), '-r', '8000', path.join(dir, narrow)]);
  run('sox', [path.join(dir, narrow), '-r', String(SR), path.join(dir, phone)]);
  fs.rmSync(path.join(dir, narrow));
  // 3 s of pink noise, then the speech with the noise going on under it
  const noisy = `${base}.noise.wav`;
  const len = seconds(path.join(dir, clean));
  const noise = `${base}.pink.wav`;
  run('sox', ['-n', '-r', String(SR), '-c', '1', '-b', '16', path.join(dir, noise), 'synth', String(len + 3), 'pinknoise', 'vol', '0.05']);
  const padded = `${base}.pad.wav`;
  run('sox', [path.join(dir, clean), path.join(dir, padded), 'pad', '3', '0']);
  run('sox', ['-m', path.join(dir, noise), path.join(dir, padded), '-b', '16', path.join(dir, noisy)]);
  fs.rmSync(path.join(dir, noise));
  fs.rmSync(path.join(dir, padded));
  return { clean, phone, noise: noisy };
}

/**
 * Writes the set into `dir` (once: an existing manifest.json is read back).
 * @param audioDir ../shared/audio
 */
export function buildLanguageSet(dir: string, audioDir: string): Clip[] {
  const manifest = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifest)) return JSON.parse(fs.readFileSync(manifest, 'utf8')) as Clip[];
  fs.mkdirSync(dir, { recursive: true });
  const clips: Clip[] = [];
  const add = (clean: string, language: string, length: Clip['length'], source: string) => {
    const files = conditions(dir, clean);
    for (const c of CONDITIONS) clips.push({ file: files[c], language, length, condition: c, source, seconds: seconds(path.join(dir, files[c])) });
  };
  const speak = (voice: string, text: string, out: string) => {
    const raw = path.join(dir, `${out}.raw.wav`);
    run('espeak-ng', ['-v', voice, '-s', '150', '-w', raw, text]);
    run('sox', [raw, '-r', String(SR), '-c', '1', '-b', '16', path.join(dir, `${out}.wav`)]);
    fs.rmSync(raw);
    return `${out}.wav`;
  };
  for (const [lang, t] of Object.entries(TEXTS)) {
    t.short.forEach((s, i) => add(speak(lang, s, `${lang}-short${i + 1}`), lang, 'short', s));
    for (let m = 0; m < 2; m++) {
      const parts = t.long.slice(3 * m, 3 * m + 3).map((s, i) => speak(lang, s, `${lang}-part${3 * m + i + 1}`));
      const out = `${lang}-medium${m + 1}.wav`;
      run('sox', [...parts.map((p) => path.join(dir, p)), path.join(dir, out)]);
      for (const p of parts) fs.rmSync(path.join(dir, p));
      add(out, lang, 'medium', t.long.slice(3 * m, 3 * m + 3).join(' '));
    }
  }
  const real: [string, string, string[]][] = [
    ['jfk-wav.wav', 'jfk.wav', ['-ac', '1']],
    ['jfk-flac.wav', 'jfk.flac', ['-ac', '1']],
    ['stereo-left.wav', 'stereo_diarization.wav left', ['-af', 'pan=mono|c0=c0']],
    ['stereo-right.wav', 'stereo_diarization.wav right', ['-af', 'pan=mono|c0=c1']],
  ];
  for (const [out, source, pan] of real) {
    const input = path.join(audioDir, source.split(' ')[0]);
    run('ffmpeg', ['-v', 'error', '-y', '-i', input, ...pan, '-ar', String(SR), '-c:a', 'pcm_s16le', path.join(dir, out)]);
    add(out, 'en', 'real', source);
  }
  fs.writeFileSync(manifest, JSON.stringify(clips, null, 1));
  return clips;
}

/** Raw float32 16 kHz mono samples of a WAV file of the set (ffmpeg). */
export function readPcm(file: string): Float32Array {
  const buf = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', String(SR), '-f', 'f32le', '-'], { maxBuffer: 1 << 28 });
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}
