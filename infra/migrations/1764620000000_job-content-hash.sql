-- Up Migration
-- The sha256 of each job's uploaded file, so a client can find the jobs it already made for the same
-- content (`GET /v1/jobs?contentSha256=`): the backfill CLI skips files that already have a
-- completed job and waits for those still running instead of submitting them again.
ALTER TABLE jobs ADD COLUMN content_sha256 text;
CREATE INDEX jobs_user_content ON jobs(user_id, content_sha256) WHERE content_sha256 IS NOT NULL;

-- Down Migration
DROP INDEX jobs_user_content;
ALTER TABLE jobs DROP COLUMN content_sha256;
