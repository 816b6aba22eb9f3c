/**
 * Languages per window (issue #17): a job sent without `language` has the language of each of its
 * chunks (≤ 30 s of VAD speech, one Whisper window) detected on that chunk's speech, and transcribed in
 * it. This module holds the pure rules the workflow applies to the detections (so the workflow stays
 * deterministic: every input is an activity result): which windows are sure, what an unsure window
 * inherits, the job's language and its `languages`, and the routing language of the first windows.
 */

/**
 * A detection at or above this probability is taken as the window's language; below it the window
 * inherits its neighbours' (assignWindowLanguages). 0.5 is faster-whisper's default
 * `language_detection_threshold` (faster_whisper/transcribe.py, `WhisperModel.transcribe`), and it fits
 * what whisper-base int8 gives here (`npx tsx bench/language-detect.ts`, 2026-12-06): on speech, the
 * right language at 0.63–1.00 for every window of ≥ 8 s (jfk 0.93, espeak en/de/es 0.63–0.98) and
 * for most single sentences (3–5 s), the lowest right one a 3.8 s German sentence at 0.36; the wrong
 * detections (espeak's French voice, read as Thai or Latin) at 0.14–0.52 but one at 0.69. Non-speech
 * is detected confidently wrong (pink noise → nn 0.53, brown noise → nn 0.80): detection must read VAD
 * speech only, which chunks are.
 */
export const LANGUAGE_SURE_PROBABILITY = 0.5;

/**
 * How many windows with speech at the start of a job decide its routing (an English-only model for
 * English): enough that one misheard window does not route a job, few enough that routing costs
 * little before transcription starts.
 */
export const ROUTING_WINDOWS = 3;

/** One window's detection: the top language and its probability (openai/whisper `detect_language`). */
export interface WindowDetection {
  language: string;
  /** null: not detected (the language was given, or the model is English-only) */
  probability: number | null;
}

/** A window with its seconds of VAD speech (for the job's `languages` and the routing vote). */
export interface WindowSpeech extends WindowDetection {
  seconds: number;
}

/** Whether a detection is sure enough to stand on its own. A given language (probability null) is. */
export function isSure(d: WindowDetection, threshold = LANGUAGE_SURE_PROBABILITY): boolean {
  return d.probability === null || d.probability >= threshold;
}

/**
 * The language each window is transcribed in, windows in time order (one channel's). A sure window
 * keeps its detection. An unsure one inherits from its nearest sure neighbours: the same language on
 * both sides (or a neighbour on one side only) → that one; two different ones → the one the window's
 * own detection names, if either; else the nearer; at equal distance the earlier (speech goes on in
 * the language it was in; a switch is taken from its first sure window). With no sure window at all,
 * every window gets the language with the most evidence (seconds × probability summed over the
 * windows that detected it; ties → the first detected), so a job never mixes two unsure guesses.
 * @param windows detections in time order (seconds are used only when no window is sure)
 * @returns one ISO 639-1 code per window
 */
export function assignWindowLanguages(windows: readonly WindowSpeech[], threshold = LANGUAGE_SURE_PROBABILITY): string[] {
  const sure = windows.map((w) => isSure(w, threshold));
  if (!sure.some(Boolean)) {
    const evidence = new Map<string, number>();
    for (const w of windows) evidence.set(w.language, (evidence.get(w.language) ?? 0) + w.seconds * (w.probability ?? 1));
    let best: string | null = null;
    for (const [language, e] of evidence) if (best === null || e > evidence.get(best)!) best = language;
    return windows.map(() => best!);
  }
  return windows.map((w, i) => {
    if (sure[i]) return w.language;
    let p = i - 1;
    while (p >= 0 && !sure[p]) p--;
    let n = i + 1;
    while (n < windows.length && !sure[n]) n++;
    const prev = p >= 0 ? windows[p].language : null;
    const next = n < windows.length ? windows[n].language : null;
    if (prev === null) return next!;
    if (next === null || prev === next) return prev;
    if (w.language === prev || w.language === next) return w.language;
    return n - i < i - p ? next : prev;
  });
}

/** One window after the first pass of a job without `language` (workflows/languages.ts step 2). */
export interface FirstPassWindow extends WindowSpeech {
  /** its channel (multichannel jobs; default 0): windows inherit only from windows of their own channel */
  channel?: number;
  /** the language it was transcribed in, or null when its detection was unsure and it was deferred */
  transcribedIn: string | null;
}

/**
 * The language every window of a job ends up in after the first pass: a transcribed window keeps the
 * language it was transcribed in; a deferred one gets {@link assignWindowLanguages}' inheritance among the
 * windows of its channel. The workflow (workflows/languages.ts step 3) transcribes the deferred windows in
 * these languages and sums the job's `languages` from them; bench/eval-wer.ts runs the same rule, so its
 * no-language rows measure what the service does.
 * @param windows every window of the job, in the job's chunk order (time order within each channel)
 * @returns one ISO 639-1 code per window, in the same order
 */
export function windowLanguagesAfterFirstPass(windows: readonly FirstPassWindow[], threshold = LANGUAGE_SURE_PROBABILITY): string[] {
  const assigned: string[] = new Array(windows.length);
  const byChannel = new Map<number, number[]>();
  windows.forEach((w, i) => byChannel.set(w.channel ?? 0, [...(byChannel.get(w.channel ?? 0) ?? []), i]));
  for (const members of byChannel.values()) {
    const langs = assignWindowLanguages(members.map((i) => windows[i]), threshold);
    members.forEach((i, k) => (assigned[i] = windows[i].transcribedIn ?? langs[k]));
  }
  return assigned;
}

/** The job's language summary (job JSON `language`, `languageProbability`, `languages`). */
export interface JobLanguages {
  /** the language with the most speech; null for a job without speech */
  language: string | null;
  /**
   * that language's detection probability: the speech-weighted mean over the windows whose own
   * detection named it; null when none did (given language, English-only model, or all inherited)
   */
  languageProbability: number | null;
  /** seconds of VAD speech per language, most first (ties: first heard first); seconds to 0.01 */
  languages: { language: string; seconds: number }[];
}

/**
 * The job's languages from its windows' final languages (`assigned`) and detections.
 * @param windows per window: its detection and seconds of speech (each second counted once)
 * @param assigned per window: the language it was transcribed in
 */
export function jobLanguages(windows: readonly WindowSpeech[], assigned: readonly string[]): JobLanguages {
  const seconds = new Map<string, number>();
  assigned.forEach((l, i) => seconds.set(l, (seconds.get(l) ?? 0) + windows[i].seconds));
  const languages = [...seconds.entries()]
    .map(([language, s], order) => ({ language, seconds: s, order }))
    .sort((a, b) => b.seconds - a.seconds || a.order - b.order)
    .map(({ language, seconds: s }) => ({ language, seconds: Math.round(s * 100) / 100 }));
  const language = languages[0]?.language ?? null;
  let weight = 0;
  let sum = 0;
  windows.forEach((w, i) => {
    if (assigned[i] !== language || w.language !== language || w.probability === null) return;
    // a window of no measurable speech still counts once
    const s = Math.max(w.seconds, 1e-6);
    weight += s;
    sum += s * w.probability;
  });
  return { language, languageProbability: weight > 0 ? Math.round((sum / weight) * 10000) / 10000 : null, languages };
}

/**
 * The language that routes a job (English → the tier's English-only model): the one with the most
 * speech among the first {@link ROUTING_WINDOWS} windows' sure detections, or among all of them when
 * none is sure; ties → the first heard.
 */
export function routingLanguage(first: readonly WindowSpeech[], threshold = LANGUAGE_SURE_PROBABILITY): string {
  const sure = first.filter((w) => isSure(w, threshold));
  const votes = sure.length > 0 ? sure : first;
  const seconds = new Map<string, number>();
  for (const w of votes) seconds.set(w.language, (seconds.get(w.language) ?? 0) + Math.max(w.seconds, 1e-6));
  let best: string | null = null;
  for (const [language, s] of seconds) if (best === null || s > seconds.get(best)!) best = language;
  return best ?? 'en';
}

/**
 * Seconds of speech each chunk adds, in order: its pieces (or its whole span), less what it shares
 * with the previous chunk of the same channel (chunks overlap where speech runs on without a pause;
 * each second counts once, as billing counts it).
 */
export function chunkSpeechSeconds(chunks: readonly { start: number; end: number; pieces?: { start: number; end: number }[]; channel?: number }[]): number[] {
  const lastEnd = new Map<number, number>();
  return chunks.map((c) => {
    const from = lastEnd.get(c.channel ?? 0) ?? -Infinity;
    const spans = c.pieces ?? [c];
    let s = 0;
    for (const p of spans) s += Math.max(0, p.end - Math.max(p.start, from));
    lastEnd.set(c.channel ?? 0, Math.max(from, c.end));
    return s;
  });
}
