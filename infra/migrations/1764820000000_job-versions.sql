-- Up Migration
-- Re-transcription keeps versions. Version 1 of a job is its own row (as before); version n > 1 is a row
-- of its own too, with `parent_job_id` the job and `version` n. Each version is thus its own run with its
-- own row id, and everything keyed by a run today keys by it: chunk_results, the usage ledger's
-- reserve/charge/refund rows and the Redis reservation and settle tombstone, job_events (one end event
-- per version, by the existing unique index), webhook_deliveries and the workflow. The unique index
-- below makes (job id, version) ↔ row id one-to-one. Version rows are never listed or addressed by their
-- own id: the API shows them under the job (`versions`, `?version=`).
ALTER TABLE jobs ADD COLUMN parent_job_id uuid REFERENCES jobs(id) ON DELETE CASCADE;
ALTER TABLE jobs ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE jobs ADD CONSTRAINT jobs_version_parent CHECK ((version = 1) = (parent_job_id IS NULL));
CREATE UNIQUE INDEX jobs_job_version ON jobs ((COALESCE(parent_job_id, id)), version);

-- Opt-in audio retention (privacy first: 0 = the audio goes when the job ends). While retained, the job's
-- audio stays in the blob store until `audio_retained_until`; a durable Temporal timer deletes it then
-- (workflows/retention.ts), DELETE at once; either sets the column back to NULL.
ALTER TABLE jobs ADD COLUMN retain_audio_seconds integer NOT NULL DEFAULT 0 CHECK (retain_audio_seconds >= 0);
ALTER TABLE jobs ADD COLUMN audio_retained_until timestamptz;

-- Down Migration
ALTER TABLE jobs DROP COLUMN audio_retained_until;
ALTER TABLE jobs DROP COLUMN retain_audio_seconds;
DROP INDEX jobs_job_version;
ALTER TABLE jobs DROP CONSTRAINT jobs_version_parent;
ALTER TABLE jobs DROP COLUMN version;
ALTER TABLE jobs DROP COLUMN parent_job_id;
