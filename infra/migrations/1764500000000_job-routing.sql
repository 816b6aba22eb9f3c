-- Up Migration
-- Routing decisions kept on the job: expected and actual cost per audio minute of the backend, and
-- whether it was admitted while no allowed queue had workers (it then waits for capacity).
ALTER TABLE jobs
  ADD COLUMN expected_cost_per_minute double precision,
  ADD COLUMN actual_cost_per_minute double precision,
  ADD COLUMN waiting_for_capacity boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE jobs DROP COLUMN expected_cost_per_minute, DROP COLUMN actual_cost_per_minute, DROP COLUMN waiting_for_capacity;
