-- Up Migration
-- Privacy mode (edge): one plan per edge job. The edge token is the one token that lives past five
-- minutes, so it is single-use server-side state: only its sha256 is kept, `used_at` is set by the one
-- request that may use it, and it dies with the plan's deadline.
CREATE TABLE edge_plans (
  job_id            uuid PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  token_hash        bytea NOT NULL UNIQUE,
  model             text,                 -- null: the device cannot run edge mode (fallback only)
  allow_fallback    boolean NOT NULL,
  expires_at        timestamptz NOT NULL, -- the edge deadline (token expiry)
  upload_expires_at timestamptz,          -- with fallback: audio must arrive by then
  used_at           timestamptz,
  -- a fallback upload waiting for the workflow's admission: what the API probed and routed
  pending_audio     jsonb,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- An edge result between the API (which validated it) and the workflow (which accepts or refuses it):
-- the transcript never travels through Temporal.
CREATE TABLE edge_results (
  job_id       uuid PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  text         text NOT NULL,
  segments     jsonb NOT NULL,
  language     text NOT NULL,
  bytes        integer NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE edge_results;
DROP TABLE edge_plans;
