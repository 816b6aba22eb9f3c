/**
 * Languages per window on the real stack (issue #17 item 3; workflows/languages.ts), whisper-base, no
 * `language` given:
 *  - English (≈ 52 s of speech) then German (≈ 38 s): each window is detected on its own speech and
 *    transcribed in its language, so the German half comes back German (not translated into English),
 *    segments carry their `language`, and the job's `languages` lists both with their seconds;
 *  - pink noise then English: detection reads only the speech (the noise window made it `nn` before).
 * The audio is made with espeak-ng and sox at test time. Pauses are placed so the chunk planner cuts at
 * the switch (audio/speech-spans.ts: the latest clear pause near the 30 s limit): 0.25 s between
 * sentences, a 0.7 s pause about 27 s into each side, 3 s of silence at the switch.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startTestApp, submitFile, waitForJob, type TestApp } from '../helpers/harness';
import { readWav } from '../helpers/wav';
import { normalise, wer } from '../helpers/wer';

const SR = 16000;
const ENGLISH = [
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
const GERMAN = [
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
/** German words the English-trained ear would not write: their presence means German was transcribed. */
const GERMAN_MARKERS = ['tomaten', 'garten', 'licht', 'haus', 'zug', 'stadt', 'schwester', 'fahrrad', 'fluss', 'bibliothek', 'montag', 'nachbarn', 'regenschirm', 'kinder', 'burg', 'zeitung', 'museum', 'stühle', 'gäste', 'und', 'wir', 'die', 'der', 'das'];
/** English words a translation of the German half would be full of. */
const ENGLISH_FUNCTION_WORDS = ['the', 'and', 'we', 'have', 'of', 'to', 'with', 'when', 'you'];

let app: TestApp;
let tmp: string;

function run(cmd: string, args: string[]) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One espeak-ng sentence in `voice`, 16 kHz mono 16-bit WAV, leading and trailing silence trimmed. */
function speak(name: string, voice: string, text: string): string {
  const raw = path.join(tmp, `${name}-raw.wav`);
  const out = path.join(tmp, `${name}.wav`);
  run('espeak-ng', ['-v', voice, '-s', '150', '-w', raw, text]);
  run('sox', ['-R', '-D', raw, '-r', String(SR), '-c', '1', '-b', '16', out,
    'silence', '1', '0.01', '-60d', 'reverse', 'silence', '1', '0.01', '-60d', 'reverse']);
  return out;
}

function silence(name: string, seconds: number): string {
  const out = path.join(tmp, `${name}.wav`);
  run('sox', ['-n', '-r', String(SR), '-c', '1', '-b', '16', out, 'trim', '0', String(seconds)]);
  return out;
}

const seconds = (wav: string) => readWav(wav).length / SR;

/**
 * Sentences of one voice laid out as one side of the file: 0.25 s between sentences, one 0.7 s pause
 * once `cutAt` seconds are reached (where the planner should cut), until `total` seconds.
 * @returns the files in order, the seconds, and the texts spoken
 */
function side(name: string, voice: string, texts: string[], cutAt: number, total: number): { files: string[]; seconds: number; spoken: string[] } {
  const short = silence(`${name}-short`, 0.25);
  const cut = silence(`${name}-cut`, 0.7);
  const files: string[] = [];
  const spoken: string[] = [];
  let t = 0;
  let cutPlaced = false;
  for (let i = 0; i < texts.length && t < total; i++) {
    const f = speak(`${name}-${i}`, voice, texts[i]);
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

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-languages-'));
  app = await startTestApp();
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

interface LangSegment {
  start: number;
  end: number;
  text: string;
  language?: string;
}

/** The English-then-German file, made once. */
let bilingual: { file: string; en: ReturnType<typeof side>; de: ReturnType<typeof side>; switchAt: number } | null = null;
function bilingualFile() {
  if (bilingual) return bilingual;
  const en = side('en', 'en', ENGLISH, 27, 52);
  const de = side('de', 'de', GERMAN, 27, 36);
  const file = path.join(tmp, 'en-de.wav');
  run('sox', [...en.files, silence('switch', 3), ...de.files, file]);
  bilingual = { file, en, de, switchAt: en.seconds + 1.5 };
  return bilingual;
}

/** Submits the bilingual file with `fields`, waits, prints and checks what both bilingual tests share. */
async function bilingualJob(label: string, fields: Record<string, string>) {
  const { file, en, de, switchAt } = bilingualFile();
  expect(en.seconds).toBeGreaterThanOrEqual(45);
  expect(de.seconds).toBeGreaterThanOrEqual(30);
  const { apiKey } = await app.user('free');
  const res = await submitFile(app.url, apiKey, file, fields);
  expect(res.status).toBe(202);
  const t0 = Date.now();
  const job = await waitForJob(app.url, apiKey, ((await res.json()) as { id: string }).id, 240_000);
  expect(job.status).toBe('completed');
  const segments = job.segments as LangSegment[];
  process.stderr.write(`[languages] ${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s; model ${job.model} (${job.modelNote}); languages ${JSON.stringify(job.languages)} language ${job.language} p ${job.languageProbability}; chunks ${job.progress.chunksTotal}\n`);
  for (const s of segments) process.stderr.write(`[languages]   ${s.start.toFixed(1)}–${s.end.toFixed(1)} ${s.language} ${s.text}\n`);

  // every segment says its language; English first, then German, no going back
  expect(segments.length).toBeGreaterThan(4);
  for (const s of segments) expect(['en', 'de']).toContain(s.language);
  const firstDe = segments.findIndex((s) => s.language === 'de');
  expect(firstDe).toBeGreaterThan(0);
  expect(segments.slice(firstDe).every((s) => s.language === 'de')).toBe(true);
  // the switch is where the speech switches (segment times within a couple of seconds)
  expect(Math.abs(segments[firstDe].start - switchAt)).toBeLessThanOrEqual(3);

  // the English half is English; the German half is German, not an English translation
  const englishText = segments.slice(0, firstDe).map((s) => s.text).join(' ');
  const germanText = segments.slice(firstDe).map((s) => s.text).join(' ');
  expect(wer(en.spoken.join(' '), englishText)).toBeLessThanOrEqual(0.3);
  const germanWords = normalise(germanText);
  const markers = GERMAN_MARKERS.filter((m) => germanWords.includes(m));
  expect(markers.length).toBeGreaterThanOrEqual(8);
  const english = germanWords.filter((w) => ENGLISH_FUNCTION_WORDS.includes(w));
  expect(english.length).toBeLessThanOrEqual(2);

  // the job: the language with the most speech, and seconds of speech per language
  expect(job.language).toBe('en');
  expect(job.languageProbability).toBeGreaterThanOrEqual(0.5);
  const languages = job.languages as { language: string; seconds: number }[];
  expect(languages.map((l) => l.language)).toEqual(['en', 'de']);
  expect(languages[0].seconds).toBeGreaterThan(en.seconds - 3);
  expect(languages[0].seconds).toBeLessThan(en.seconds + 4);
  expect(languages[1].seconds).toBeGreaterThan(de.seconds - 3);
  expect(languages[1].seconds).toBeLessThan(de.seconds + 4);
  return job;
}

test('English then German without a language: each window in its own language, German not translated', async () => {
  const job = await bilingualJob('whisper-base', { model: 'whisper-base' });
  expect(job.model).toBe('whisper-base');
  expect(job.modelNote).toBeNull();
}, 300_000);

test('economy routing: English goes to tiny.en, the switch to German re-routes the rest to whisper-base', async () => {
  // no model: the first windows are English (tiny.en), the third is German, which re-routes
  const job = await bilingualJob('economy routing', {});
  expect(job.model).toBe('whisper-base');
  expect(job.modelNote).toMatch(/^routed to whisper-tiny\.en for English; re-routed to whisper-base from chunk \d+ \(language de\)$/);
}, 300_000);

test('noise then English without a language: detected on the speech, English', async () => {
  const noise = path.join(tmp, 'pink.wav');
  run('sox', ['-n', '-r', String(SR), '-c', '1', '-b', '16', noise, 'synth', '12', 'pinknoise', 'vol', '0.3']);
  const speech = side('en2', 'en', ENGLISH.slice(0, 3), 100, 100);
  const file = path.join(tmp, 'noise-en.wav');
  run('sox', [noise, ...speech.files, file]);

  const { apiKey } = await app.user('free');
  const res = await submitFile(app.url, apiKey, file, { model: 'whisper-base' });
  expect(res.status).toBe(202);
  const job = await waitForJob(app.url, apiKey, ((await res.json()) as { id: string }).id, 120_000);
  expect(job.status).toBe('completed');
  process.stderr.write(`[languages] noise-en: ${job.language} ${job.languageProbability} ${JSON.stringify(job.languages)} ${job.text}\n`);
  expect(job.language).toBe('en');
  expect((job.languages as { language: string }[]).map((l) => l.language)).toEqual(['en']);
  for (const s of job.segments as LangSegment[]) expect(s.language).toBe('en');
  expect(wer(speech.spoken.join(' '), job.text)).toBeLessThanOrEqual(0.3);
}, 180_000);
