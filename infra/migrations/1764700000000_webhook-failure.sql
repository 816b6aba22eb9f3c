-- Up Migration
-- A webhook that was given up on (refused by policy, or failing after every retry), shown on the job
-- JSON as `webhook {event, error, attempts}`, so the user learns their receiver never got it.
ALTER TABLE jobs ADD COLUMN webhook_failure jsonb;

-- Down Migration
ALTER TABLE jobs DROP COLUMN webhook_failure;
