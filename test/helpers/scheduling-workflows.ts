/**
 * A stand-in for the transcription workflow's chunk fan-out, for the scheduling test and bench: no audio,
 * no database, only the part that decides dispatch order on the inference queue. Like the real workflow
 * it runs on its own (orchestration) queue and schedules its chunk activities on another queue, so the
 * server's matcher (not eager activity dispatch) picks the order; like the real workflow it sets no
 * priority on the activities, so they inherit the workflow's priorityKey / fairnessKey / fairnessWeight.
 *
 * Bundled on its own (bundleWorkflowCode) by test/helpers/scheduling-rig.ts: only @temporalio/workflow here.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface SchedChunkInput {
  jobId: string;
  userId: string;
  tier: string;
  priorityClass: string;
  chunk: number;
}

export interface FanOutInput {
  /** The "inference" queue the chunk activities go to. */
  activityQueue: string;
  jobId: string;
  userId: string;
  tier: string;
  priorityClass: string;
  chunks: number;
  /** Chunks in flight at once (the real workflow uses 16); >= chunks schedules all of them at once. */
  maxInFlight: number;
}

export interface SchedActivities {
  schedChunk(input: SchedChunkInput): Promise<void>;
}

export async function fanOutJob(input: FanOutInput): Promise<number> {
  const { schedChunk } = proxyActivities<SchedActivities>({
    taskQueue: input.activityQueue,
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 1 },
  });
  let next = 0;
  const lane = async () => {
    while (next < input.chunks) {
      const chunk = next++;
      await schedChunk({
        jobId: input.jobId,
        userId: input.userId,
        tier: input.tier,
        priorityClass: input.priorityClass,
        chunk,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.maxInFlight, input.chunks)) }, lane));
  return input.chunks;
}
