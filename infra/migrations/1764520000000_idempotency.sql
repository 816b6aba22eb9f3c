-- Up Migration
-- Retried requests map to the job the first one created: by the client's Idempotency-Key (24 h), or
-- on the OpenAI-compatible routes without one by user + content hash + parameters (a few minutes).
CREATE TABLE idempotency_keys (
  user_id       uuid NOT NULL REFERENCES users(id),
  key           text NOT NULL,
  request_hash  text NOT NULL,
  job_id        uuid NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);

-- Down Migration
DROP TABLE idempotency_keys;
