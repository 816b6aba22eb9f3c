-- Up Migration
-- Languages per window (issue #17): a job without `language` is transcribed window by window in each
-- window's detected language; `languages` is [{language, seconds}], seconds of VAD speech per language,
-- most first (workflows/languages.ts). Null for jobs finished before it existed.
ALTER TABLE jobs ADD COLUMN languages jsonb;

-- Down Migration
ALTER TABLE jobs DROP COLUMN languages;
