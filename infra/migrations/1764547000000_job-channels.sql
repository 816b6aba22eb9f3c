-- Up Migration
-- multichannel=true: one transcript per channel, [{channel, text, segments}] (the job's `channels`).
ALTER TABLE jobs ADD COLUMN channels jsonb;

-- Down Migration
ALTER TABLE jobs DROP COLUMN channels;
