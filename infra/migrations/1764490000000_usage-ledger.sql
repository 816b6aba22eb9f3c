-- Up Migration
-- The usage ledger, Postgres being the source of truth for quotas (Redis holds counters rebuilt from it).
-- One row per reservation, charge and refund; (job_id, kind) is unique so a retried or replayed activity
-- writes each row once. `day` is the UTC day the job was admitted: a job counts on that day, even if it
-- is charged after midnight.
CREATE TABLE usage_ledger (
  id          bigserial PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users(id),
  job_id      uuid NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('reserve', 'charge', 'refund')),
  seconds     integer NOT NULL CHECK (seconds >= 0),
  day         date NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, kind)
);
CREATE INDEX usage_ledger_user_day ON usage_ledger(user_id, day);

-- Down Migration
DROP TABLE usage_ledger;
