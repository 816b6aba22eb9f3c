-- Up Migration
-- Results of live (WebSocket) window decodes. The inference activity writes the text here and returns
-- only the window's sequence number (Temporal payloads never carry transcripts); the API reads it back.
-- A final window's segments also go to chunk_results (chunk = utterance), so the job's transcript is
-- merged by the same finalizeTranscript as a file job's.
CREATE TABLE live_results (
  job_id      uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('partial', 'final')),
  text        text NOT NULL,
  segments    jsonb NOT NULL,
  language    text,
  inference_ms double precision,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, seq)
);

-- Down Migration
DROP TABLE live_results;
