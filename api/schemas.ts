/**
 * Request schemas (zod): the one definition that validates requests and, later, generates OpenAPI.
 * Multipart fields arrive as strings, so booleans are parsed from "true"/"false".
 */
import { z } from 'zod';

const boolString = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Every field of `POST /v1/jobs` in ../shared/API.md; any other name is refused. */
export const createJobFields = z
  .object({
    language: z
      .string()
      .regex(/^[a-z]{2,3}$/, 'must be an ISO 639-1 code such as "en"')
      .optional(),
    model: z.string().min(1).max(100).optional(),
    task: z.enum(['transcribe', 'translate']).optional(),
    prompt: z.string().max(1000).optional(),
    optimizeFor: z.enum(['cost', 'speed', 'balanced']).optional(),
    requireHighAccuracy: boolString.optional(),
    priorityClass: z.enum(['interactive', 'backfill']).optional(),
    multichannel: boolString.optional(),
    webhookUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      .optional(),
    mode: z.enum(['cloud', 'edge']).optional(),
    allowFallback: boolString.optional(),
  })
  .strict();

export type CreateJobFields = z.infer<typeof createJobFields>;

/** Turns a zod error into one sentence naming the fields. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown field(s): ${i.keys.join(', ')}`;
      const where = i.path.join('.') || 'body';
      return `${where}: ${i.message}`;
    })
    .join('; ');
}
