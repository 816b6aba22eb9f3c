/**
 * Languages per window (issue #17 item 3): a job without `language` has each chunk's language detected
 * on the chunk's own speech (chunks hold VAD speech only, so noise never decides a language), and each
 * chunk transcribed in its language, so `task=transcribe` never translates a switch into another
 * language. Deterministic orchestration: every decision is a pure function (common/window-languages.ts)
 * of activity results.
 *
 *  1. Routing (economy: an English-only model first; `languageRouting`): the multilingual model detects
 *     the first {@link ROUTING_WINDOWS} chunks; the language with the most speech among them picks the
 *     English-only or the multilingual model.
 *  2. First pass, every chunk: a sure detection (≥ LANGUAGE_SURE_PROBABILITY) is transcribed at once in
 *     its language; an unsure one comes back `deferred`, untranscribed. On the English-only model the
 *     multilingual model detects only where the English-only model's own greedy text is doubted
 *     (TranscribeChunkInput.detectModel; common/language-routing.ts englishTextDoubted); a sure
 *     non-English chunk re-routes the chunks not yet started to the multilingual model (`modelNote`).
 *  3. Second pass: the deferred chunks, each in the language it inherits from its neighbours.
 *  4. The job's `language` (most speech), `languageProbability` and `languages`: one summary, written
 *     once, from the same per-chunk languages the segments carry.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createStorageActivities } from '../activities/storage';
import { MODEL_REGISTRY } from '../common/routing';
import { modelForLanguage } from '../common/language-routing';
import type { TranscriptionInput } from '../common/jobs';
import {
  chunkSpeechSeconds,
  isSure,
  jobLanguages,
  LANGUAGE_SURE_PROBABILITY,
  routingLanguage,
  ROUTING_WINDOWS,
  type JobLanguages,
  type WindowDetection,
  windowLanguagesAfterFirstPass,
} from '../common/window-languages';
import { detectLanguageOnBackend, runChunks, type ChunkCall, type ChunkOutcome, type JobChunk, chunkRunner } from './chunks';

type Storage = ReturnType<typeof createStorageActivities>;

const storage = proxyActivities<Storage>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

/** What the job row gets: the language summary, and the model when routing or a re-route changed it. */
export interface LanguageOutcome extends JobLanguages {
  model: string;
  modelNote: string | null;
}

/**
 * Transcribes every chunk of a job with a given `language` (or an English-only model's implied `en`)
 * and sums its speech: `languages` has that one language.
 */
export async function transcribeInLanguage(
  job: TranscriptionInput,
  chunks: JobChunk[],
  language: string | null,
  onDone: (n: number) => void,
): Promise<LanguageOutcome> {
  const run = chunkRunner(job, () => language, () => chunks.length);
  const outcomes = new Map<JobChunk, ChunkOutcome>();
  await runChunks(job, chunks, () => ({ language }), run, onDone, { onResult: (c, o) => outcomes.set(c, o) });
  return inLanguageOutcome(job, chunks, language, (c) => outcomes.get(c));
}

/**
 * The language summary of a job whose chunks all ran in `language` (transcribeInLanguage; also the workflow's
 * chunks started while preparing, workflows/transcription.ts): a null language takes each chunk's detected one.
 */
export function inLanguageOutcome(
  job: TranscriptionInput,
  chunks: JobChunk[],
  language: string | null,
  outcomeOf: (chunk: JobChunk) => ChunkOutcome | undefined,
): LanguageOutcome {
  const seconds = chunkSpeechSeconds(chunks);
  const windows = chunks.map((c, i) => {
    const o = outcomeOf(c);
    return { language: language ?? o?.language ?? 'en', probability: language === null ? (o?.languageProbability ?? null) : null, seconds: seconds[i] };
  });
  return { ...jobLanguages(windows, windows.map((w) => w.language)), model: job.model, modelNote: null };
}

/**
 * The per-window flow of the file comment, for a job without `language` (either task) on a
 * multilingual model, or routed by language (`job.languageRouting`).
 * @param chunks the job's chunks with speech, in order (multichannel: channel by channel)
 * @param onDone progress, per chunk transcribed (a deferred chunk counts when its second pass is done)
 */
export async function transcribeByWindow(job: TranscriptionInput, chunks: JobChunk[], onDone: (n: number) => void): Promise<LanguageOutcome> {
  const seconds = chunkSpeechSeconds(chunks);
  const position = new Map(chunks.map((c, i) => [c, i]));
  const detections: (WindowDetection | null)[] = chunks.map(() => null);
  /** the language each transcribed chunk was transcribed in */
  const transcribedIn: (string | null)[] = chunks.map(() => null);
  const routing = job.languageRouting ?? null;
  let model = job.model;
  let modelNote: string | null = null;

  if (routing) {
    // 1. Routing by the first windows' speech (detections kept: step 2 does not detect them again).
    const first = chunks.slice(0, ROUTING_WINDOWS);
    const found = await Promise.all(first.map((c) => detectLanguageOnBackend(job, routing.detectModel, c)));
    found.forEach((d, i) => (detections[i] = d));
    const language = routingLanguage(found.map((d, i) => ({ ...d, seconds: seconds[i] })));
    model = modelForLanguage(routing, language);
    await storage.updateJob({ jobId: job.jobId, patch: { model } });
  }
  const englishOnly = () => MODEL_REGISTRY.models[model]?.multilingual === false;
  const reroute = (chunk: JobChunk, language: string) => {
    if (!routing || !englishOnly()) return;
    modelNote = `routed to ${routing.englishModel} for English; re-routed to ${routing.otherModel} from chunk ${chunk.index} (language ${language})`;
    model = routing.otherModel;
  };

  // 2. First pass. A chunk with a known detection (routing step) runs in its language when sure (and the
  // model can transcribe it), else waits for the second pass; the others detect as they run.
  const deferred = new Set<number>();
  const callFor = (c: JobChunk): ChunkCall => {
    const i = position.get(c)!;
    const known = detections[i];
    // (a known unsure detection is not in the first pass)
    if (known) {
      if (known.language !== 'en' && englishOnly()) reroute(c, known.language);
      return { language: known.language, model };
    }
    return {
      language: null,
      model,
      minLanguageProbability: LANGUAGE_SURE_PROBABILITY,
      ...(englishOnly() && routing ? { detectModel: routing.detectModel } : {}),
    };
  };
  const run = chunkRunner(job, () => null);
  const firstPass = chunks.filter((_, i) => !(detections[i] && !isSure(detections[i]!)));
  chunks.forEach((_, i) => detections[i] && !isSure(detections[i]!) && deferred.add(i));
  await runChunks(job, firstPass, callFor, run, () => undefined, {
    onResult: (c, o) => {
      const i = position.get(c)!;
      if (!detections[i]) detections[i] = { language: o.language, probability: o.languageProbability };
      if (o.deferred) {
        deferred.add(i);
        // A sure detection the English-only model cannot transcribe: the job switches language.
        if (isSure(detections[i]!) && detections[i]!.language !== 'en') reroute(c, detections[i]!.language);
        return;
      }
      transcribedIn[i] = o.language;
      onDone(1);
    },
  });

  // 3. Second pass: each deferred chunk in the language its neighbours give it (per channel).
  const assigned = windowLanguagesAfterFirstPass(
    chunks.map((c, i) => ({ ...detections[i]!, seconds: seconds[i], channel: c.channel ?? 0, transcribedIn: transcribedIn[i] })),
  );
  const second = chunks.filter((_, i) => deferred.has(i));
  if (second.length > 0) {
    const forced = (c: JobChunk): ChunkCall => {
      const language = assigned[position.get(c)!];
      if (language !== 'en' && englishOnly()) reroute(c, language);
      return { language, model };
    };
    await runChunks(job, second, forced, run, onDone, { childIdSuffix: '-inherited' });
  }

  // 4. One summary, from the languages the chunks were transcribed in.
  const windows = chunks.map((_, i) => ({ ...detections[i]!, seconds: seconds[i] }));
  const summary = jobLanguages(windows, assigned);
  if (modelNote) await storage.updateJob({ jobId: job.jobId, patch: { model, modelNote } });
  return { ...summary, model, modelNote };
}
