-- Up Migration
-- Job events for Server-Sent Events: ids come from one sequence, so they increase per job and any API
-- replica can resume a stream after Last-Event-ID. Terminal events carry no body: the API renders the
-- job JSON when it sends them.
CREATE TABLE job_events (
  id          bigserial PRIMARY KEY,
  job_id      uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  type        text NOT NULL CHECK (type IN ('progress', 'segment', 'completed', 'failed', 'cancelled', 'expired')),
  data        jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job ON job_events(job_id, id);
-- One terminal event per job, so a retried status update cannot announce the end twice.
CREATE UNIQUE INDEX job_events_one_end ON job_events(job_id) WHERE type IN ('completed', 'failed', 'cancelled', 'expired');

-- Down Migration
DROP TABLE job_events;
