-- Trigram indexes serve the admin list's `q=` (name or description contains …) without a scan of every
-- account. pg_trgm ships with PostgreSQL (contrib; a trusted extension since PostgreSQL 13, so the database
-- owner may create it) and with PGlite (loaded in src/db/connect.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
