-- Up Migration
-- Per-user webhook signing secrets (Standard Webhooks: "whsec_" + base64 of 32 random bytes). The secret
-- must be stored as itself (it signs every delivery); rotating replaces it.
CREATE TABLE webhook_secrets (
  user_id     uuid PRIMARY KEY REFERENCES users(id),
  secret      text NOT NULL,
  rotated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (job, event): the delivery's stable webhook-id, its attempts, and when it succeeded.
-- A retried activity finds `delivered_at` set and sends nothing (success recorded once).
CREATE TABLE webhook_deliveries (
  job_id          uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  event_type      text NOT NULL CHECK (event_type IN ('job.completed', 'job.failed', 'job.cancelled')),
  webhook_id      text NOT NULL UNIQUE,
  url             text NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  last_status     integer,
  last_error      text,
  delivered_at    timestamptz,
  refused_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, event_type)
);

-- Down Migration
DROP TABLE webhook_deliveries;
DROP TABLE webhook_secrets;
