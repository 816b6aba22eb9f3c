-- Up Migration
-- Chunks of speech that runs past 30 s without a pause overlap their neighbour (audio/speech-spans.ts);
-- a chunk's SSE `segment` events wait until its overlapping neighbours are stored too, so the merge can
-- keep each word of the overlap once before a client sees it (activities/inference.ts).
ALTER TABLE chunk_results
  ADD COLUMN overlap_prev boolean NOT NULL DEFAULT false,
  ADD COLUMN overlap_next boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE chunk_results DROP COLUMN overlap_prev, DROP COLUMN overlap_next;
