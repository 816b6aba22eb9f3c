/** Privacy mode's request and answer schemas (zod): they validate requests and feed /openapi.json. */
import { z } from 'zod';

/** `{text, segments, language}`: all an edge result may hold (API.md), each bounded. */
export const edgeResultSchema = z
  .object({
    text: z.string().max(500_000),
    segments: z
      .array(
        z
          .object({ start: z.number().finite().min(0), end: z.number().finite().min(0), text: z.string().max(10_000) })
          .strict()
          .refine((s) => s.end >= s.start, 'a segment ends before it starts'),
      )
      .max(50_000),
    language: z.string().regex(/^[a-z]{2,3}$/, 'must be an ISO 639-1 code such as "en"'),
  })
  .strict();

/** 202 of `POST /v1/jobs/:id/edge-result`: the job took the result (it completes in a moment). */
export const edgeAcceptedSchema = z.looseObject({ id: z.string(), status: z.literal('accepted') });
