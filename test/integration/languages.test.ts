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
import * as path from 'node:path';
import { submitAndWait } from '../helpers/harness';
import { fileApp } from '../helpers/file-app';
import { normalise, wer } from '../helpers/wer';
import { ENGLISH, GERMAN, makeEnglishThenGerman, run, side, silence, SR } from '../helpers/speech-files';

/** German words the English-trained ear would not write: their presence means German was transcribed. */
const GERMAN_MARKERS = ['tomaten', 'garten', 'licht', 'haus', 'zug', 'stadt', 'schwester', 'fahrrad', 'fluss', 'bibliothek', 'montag', 'nachbarn', 'regenschirm', 'kinder', 'burg', 'zeitung', 'museum', 'stühle', 'gäste', 'und', 'wir', 'die', 'der', 'das'];
/** English words a translation of the German half would be full of. */
const ENGLISH_FUNCTION_WORDS = ['the', 'and', 'we', 'have', 'of', 'to', 'with', 'when', 'you'];

const env = fileApp('fs-languages-');

interface LangSegment {
  start: number;
  end: number;
  text: string;
  language?: string;
}

/** The English-then-German file, made once. */
let bilingual: ReturnType<typeof makeEnglishThenGerman> | null = null;
function bilingualFile() {
  bilingual ??= makeEnglishThenGerman(env.tmp);
  return bilingual;
}

/**
 * English (≈ 83 s, more chunks than the routing windows: four here, the fourth English chunk kept on
 * tiny.en's undoubted text) then 3 s of silence then German (≈ 38 s, from chunk 4). The planner cuts at the
 * 0.7 s pause at 27 s, at sentence gaps and at the switch (a removed pause).
 */
let longEnglish: ReturnType<typeof makeEnglishThenGerman> | null = null;
function longEnglishFile() {
  if (!longEnglish) {
    const en = side(env.tmp, 'enlong', 'en', [...ENGLISH, ...ENGLISH.slice(0, 10)], 27, 80);
    const de = side(env.tmp, 'delong', 'de', GERMAN, 27, 36);
    const file = path.join(env.tmp, 'enlong-de.wav');
    run('sox', ['-R', ...en.files, silence(env.tmp, 'switchlong', 3), ...de.files, file]);
    longEnglish = { file, en, de, switchAt: en.seconds + 1.5 };
  }
  return longEnglish;
}

/** Submits a bilingual file with `fields`, waits, prints and checks what the bilingual tests share. */
async function bilingualJob(label: string, fields: Record<string, string>, made = bilingualFile()) {
  const { file, en, de, switchAt } = made;
  expect(en.seconds).toBeGreaterThanOrEqual(45);
  expect(de.seconds).toBeGreaterThanOrEqual(30);
  const { apiKey } = await env.app.user('free');
  const t0 = Date.now();
  const job = await submitAndWait(env.app.url, apiKey, file, fields, 240_000);
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

  // the SSE stream's segment events carry the same languages (the job's events, replayed from the start)
  const events = await fetch(`${env.app.url}/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${apiKey}` } });
  const segmentEvents = (await events.text())
    .split('\n\n')
    .filter((b) => b.includes('event: segment'))
    .map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6).split('\n')[0]) as { chunk: number; start: number; language?: string })
    .sort((a, b) => a.chunk - b.chunk || a.start - b.start);
  expect(segmentEvents.map((e) => e.language)).toEqual(segments.map((s) => s.language));
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

test('economy routing past the routing windows: tiny.en\'s doubted text on German brings the detection, which re-routes', async () => {
  // English fills the three routing windows; the first German chunk comes after them, where tiny.en's greedy
  // text is kept without a detection unless Whisper's own guards doubt it (common/language-routing.ts)
  const made = longEnglishFile();
  const job = await bilingualJob('economy routing, long English', {}, made);
  expect(job.progress.chunksTotal).toBeGreaterThanOrEqual(4);
  expect(job.model).toBe('whisper-base');
  expect(job.modelNote).toMatch(/^routed to whisper-tiny\.en for English; re-routed to whisper-base from chunk ([3-9]|\d\d+) \(language de\)$/);
}, 300_000);

test('noise then English without a language: detected on the speech, English', async () => {
  const noise = path.join(env.tmp, 'pink.wav');
  run('sox', ['-R', '-n', '-r', String(SR), '-c', '1', '-b', '16', noise, 'synth', '12', 'pinknoise', 'vol', '0.3']);
  const speech = side(env.tmp, 'en2', 'en', ENGLISH.slice(0, 3), 100, 100);
  const file = path.join(env.tmp, 'noise-en.wav');
  run('sox', ['-R', noise, ...speech.files, file]);

  const { apiKey } = await env.app.user('free');
  const job = await submitAndWait(env.app.url, apiKey, file, { model: 'whisper-base' }, 120_000);
  expect(job.status).toBe('completed');
  process.stderr.write(`[languages] noise-en: ${job.language} ${job.languageProbability} ${JSON.stringify(job.languages)} ${job.text}\n`);
  expect(job.language).toBe('en');
  expect((job.languages as { language: string }[]).map((l) => l.language)).toEqual(['en']);
  for (const s of job.segments as LangSegment[]) expect(s.language).toBe('en');
  expect(wer(speech.spoken.join(' '), job.text)).toBeLessThanOrEqual(0.3);
}, 180_000);
