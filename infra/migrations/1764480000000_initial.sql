-- Up Migration
-- Users and their API keys. Only a SHA-256 of each key is stored: keys carry 256 bits of randomness,
-- so a slow password hash would add latency to every request without adding safety.
CREATE TABLE users (
  id          uuid PRIMARY KEY,
  name        text NOT NULL,
  tier        text NOT NULL CHECK (tier IN ('free', 'standard', 'premium')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id          text PRIMARY KEY,            -- public key id, the part of the key before the secret
  user_id     uuid NOT NULL REFERENCES users(id),
  key_hash    bytea NOT NULL,              -- sha256(full key)
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_user ON api_keys(user_id);

-- One row per transcription job. Transcripts live here, never in Temporal payloads.
CREATE TABLE jobs (
  id                    uuid PRIMARY KEY,
  user_id               uuid NOT NULL REFERENCES users(id),
  status                text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued','running','completed','failed','cancelled','expired')),
  mode                  text NOT NULL DEFAULT 'cloud',
  priority_class        text NOT NULL DEFAULT 'interactive',
  tier                  text NOT NULL,
  model                 text,
  model_tier            text,
  backend               text,
  language              text,
  language_probability  double precision,
  options               jsonb NOT NULL DEFAULT '{}',
  filename              text,
  audio_ref             text,            -- blob key of the uploaded audio
  audio_seconds         double precision,
  billed_seconds        integer,
  chunks_total          integer,
  chunks_done           integer NOT NULL DEFAULT 0,
  text                  text,
  segments              jsonb,
  error_code            text,
  error_message         text,
  produced_by           text NOT NULL DEFAULT 'server',
  created_at            timestamptz NOT NULL DEFAULT now(),
  started_at            timestamptz,
  first_result_at       timestamptz,
  completed_at          timestamptz,
  deleted_at            timestamptz
);
CREATE INDEX jobs_user_created ON jobs(user_id, created_at DESC, id);

-- Each finished chunk's segments, stored as it finishes: a retried or replayed transcribeChunk
-- finds its row and returns it instead of running the model again.
CREATE TABLE chunk_results (
  job_id       uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  chunk_index  integer NOT NULL,
  start_s      double precision NOT NULL,
  end_s        double precision NOT NULL,
  segments     jsonb NOT NULL,
  language     text,
  language_probability double precision,
  inference_ms double precision,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, chunk_index)
);

-- Down Migration
DROP TABLE chunk_results;
DROP TABLE jobs;
DROP TABLE api_keys;
DROP TABLE users;
