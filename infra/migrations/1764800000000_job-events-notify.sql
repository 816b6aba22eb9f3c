-- Up Migration
-- Server-Sent Events without polling: every new job event NOTIFYs channel `job_events` with ids only
-- ("<job uuid>:<event id>", 56 bytes at most, far below NOTIFY's 8,000-byte payload limit), so an API replica
-- holds one LISTEN connection and wakes only the streams of that job, which then read the event by id as
-- before (api/event-hub.ts). NOTIFY is sent when the inserting transaction commits and not at all if it
-- rolls back, so a woken stream always finds the row. The payload never carries event data: segments can be
-- long, and the table stays the one source a resumed stream reads.
CREATE FUNCTION job_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('job_events', NEW.job_id::text || ':' || NEW.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER job_events_notify AFTER INSERT ON job_events
  FOR EACH ROW EXECUTE FUNCTION job_events_notify();

-- Down Migration
DROP TRIGGER job_events_notify ON job_events;
DROP FUNCTION job_events_notify();
