/**
 * espeak-ng speech files for the language tests and benchmarks (test/integration/languages.test.ts,
 * bench/languages-peer.ts): sentences in English and German laid out with known pauses.
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readWav } from './wav';

export const SR = 16000;
export const ENGLISH = [
  'We planted tomatoes and carrots in the garden last spring',
  'Please remember to turn off the lights when you leave the house',
  'The train to the city leaves every morning at half past seven',
  'My sister bought a new bicycle because the old one was stolen',
  'After the meeting we walked down to the river and had lunch together',
  'The library will be closed on Monday for the national holiday',
  'Our neighbours painted their front door a bright shade of yellow',
  'He forgot his umbrella at the office and got wet on the way home',
  'The children built a small castle out of sand on the beach',
  'She reads the newspaper every evening before dinner',
  'The museum opens a new exhibition about ancient ships next week',
  'We need more chairs for the guests who arrive this afternoon',
  'The baker on the corner sells fresh bread early in the morning',
  'Turn left at the church and the station is on your right',
  'The old clock in the hall stopped working last winter',
  'They are planning a trip to the mountains in the summer',
];
export const GERMAN = [
  'Wir haben im letzten Frühling Tomaten und Karotten im Garten gepflanzt',
  'Bitte denk daran das Licht auszuschalten wenn du das Haus verlässt',
  'Der Zug in die Stadt fährt jeden Morgen um halb acht ab',
  'Meine Schwester hat ein neues Fahrrad gekauft weil das alte gestohlen wurde',
  'Nach der Besprechung sind wir zum Fluss gegangen und haben zusammen gegessen',
  'Die Bibliothek bleibt am Montag wegen des Feiertags geschlossen',
  'Unsere Nachbarn haben ihre Haustür in einem hellen Gelb gestrichen',
  'Er hat seinen Regenschirm im Büro vergessen und ist nass geworden',
  'Die Kinder haben am Strand eine kleine Burg aus Sand gebaut',
  'Sie liest jeden Abend vor dem Essen die Zeitung',
  'Das Museum eröffnet nächste Woche eine neue Ausstellung über alte Schiffe',
  'Wir brauchen mehr Stühle für die Gäste die heute Nachmittag kommen',
];
export function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One espeak-ng sentence in `voice`, 16 kHz mono 16-bit WAV, leading and trailing silence trimmed. */
function speak(tmp: string, name: string, voice: string, text: string): string {
  const raw = path.join(tmp, `${name}-raw.wav`);
  const out = path.join(tmp, `${name}.wav`);
  run('espeak-ng', ['-v', voice, '-s', '150', '-w', raw, text]);
  run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', out,
    'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
  return out;
}

/** `seconds` of sox's silence, 16 kHz mono 16-bit: dithered as sox does, with -R its fixed seed, so every run gets the same samples. */
export function silence(tmp: string, name: string, seconds: number): string {
  const out = path.join(tmp, `${name}.wav`);
  run('sox', ['-R', '-n', '-r', String(SR), '-c', '1', '-b', '16', out, 'trim', '0', String(seconds)]);
  return out;
}

export const seconds = (wav: string) => readWav(wav).length / SR;

/**
 * Sentences of one voice laid out as one side of the file: 0.25 s between sentences, one 0.7 s pause
 * once `cutAt` seconds are reached (where the planner should cut), until `total` seconds.
 * @returns the files in order, the seconds, and the texts spoken
 */
export function side(tmp: string, name: string, voice: string, texts: string[], cutAt: number, total: number): { files: string[]; seconds: number; spoken: string[] } {
  const short = silence(tmp, `${name}-short`, 0.25);
  const cut = silence(tmp, `${name}-cut`, 0.7);
  const files: string[] = [];
  const spoken: string[] = [];
  let t = 0;
  let cutPlaced = false;
  for (let i = 0; i < texts.length && t < total; i++) {
    const f = speak(tmp, `${name}-${i}`, voice, texts[i]);
    const len = seconds(f);
    if (files.length > 0) {
      const gap = !cutPlaced && t + len > cutAt ? cut : short;
      if (gap === cut) cutPlaced = true;
      files.push(gap);
      t += seconds(gap);
    }
    files.push(f);
    spoken.push(texts[i]);
    t += len;
  }
  return { files, seconds: t, spoken };
}


/**
 * English (≈ 52 s of speech) then 3 s of silence then German (≈ 36 s), in `tmp`: pauses of 0.25 s
 * between sentences and one of 0.7 s about 27 s into each side, so the chunk planner (the latest clear
 * pause near the 30 s limit: audio/speech-spans.ts) cuts at 27 s and at the switch.
 * @returns the file, each side's texts and seconds, and the time of the switch (middle of the silence)
 */
export function makeEnglishThenGerman(tmp: string) {
  const en = side(tmp, 'en', 'en', ENGLISH, 27, 52);
  const de = side(tmp, 'de', 'de', GERMAN, 27, 36);
  const file = path.join(tmp, 'en-de.wav');
  run('sox', ['-R', ...en.files, silence(tmp, 'switch', 3), ...de.files, file]);
  return { file, en, de, switchAt: en.seconds + 1.5 };
}
