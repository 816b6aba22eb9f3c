-- Up Migration
-- Chunks moved off spot after repeated failures: [{chunk, from, to, reason}].
ALTER TABLE jobs ADD COLUMN fallbacks jsonb NOT NULL DEFAULT '[]';

-- Down Migration
ALTER TABLE jobs DROP COLUMN fallbacks;
