/** Privacy mode's request and answer schemas (zod): they validate requests and feed /openapi.json. */
import { z } from 'zod';
import { languageCode } from '../schemas';

/** Rounding slack (seconds) for a word's times against its segment's: both are rounded to 0.01 s. */
const WORD_SLACK_S = 0.011;

/** A word of an edge segment (jobs made with wordTimestamps), validated like the segments. */
const edgeWord = z
  .object({
    word: z.string().max(1_000),
    start: z.number().finite().min(0),
    end: z.number().finite().min(0),
    probability: z.number().finite().min(0).max(1),
  })
  .strict()
  .refine((w) => w.end >= w.start, 'a word ends before it starts');

/** `{text, segments, language}`: all an edge result may hold (docs/api.md `POST /v1/jobs/{id}/edge-result`), each bounded. */
export const edgeResultSchema = z
  .object({
    text: z.string().max(500_000),
    segments: z
      .array(
        z
          .object({
            start: z.number().finite().min(0),
            end: z.number().finite().min(0),
            text: z.string().max(10_000),
            words: z.array(edgeWord).max(2_000).optional(),
          })
          .strict()
          .refine((s) => s.end >= s.start, 'a segment ends before it starts')
          .refine(
            (s) =>
              (s.words ?? []).every(
                (w, i, ws) => w.start >= s.start - WORD_SLACK_S && w.end <= s.end + WORD_SLACK_S && (i === 0 || w.start >= ws[i - 1].end - WORD_SLACK_S),
              ),
            'words must lie inside their segment, in order, without overlapping',
          ),
      )
      .max(50_000),
    // The cloud path's own check (api/schemas.ts languageCode): a code Whisper does not have is no result of its.
    language: languageCode,
  })
  .strict();

/** 202 of `POST /v1/jobs/:id/edge-result`: the job took the result (it completes in a moment). */
export const edgeAcceptedSchema = z.looseObject({ id: z.string(), status: z.literal('accepted') });
