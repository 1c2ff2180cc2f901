-- 0003: which definitions derived each record, and a log of every derivation run.
--
-- The warehouse derives every record under the agreed definitions of its canonical spec version.
-- When that version (or, for a draft, its files) changes, the records are derived again from
-- their stored columns (src/mhdeaths/warehouse/rederive.py), in the transaction that opens the
-- warehouse for writing, so no reader sees records derived under two sets of definitions.
-- Records loaded before this migration have no definitions version (NULL): the first opening
-- for writing derives them again and stamps them.

ALTER TABLE death_record ADD COLUMN definitions_version VARCHAR;  -- spec version of the definitions
ALTER TABLE activity_record ADD COLUMN definitions_version VARCHAR;

-- One row per derivation run: the canonical version and a hash of its spec files, and how many
-- records of each table were derived (a column <table>_records per record table; a release
-- that adds a record table adds its column).
CREATE TABLE derivation_run (
    run_id               INTEGER PRIMARY KEY,
    definitions_version  VARCHAR NOT NULL,
    spec_sha256          VARCHAR NOT NULL,   -- of the version's files' own SHA-256s
    started_at           TIMESTAMP NOT NULL, -- UTC
    finished_at          TIMESTAMP NOT NULL, -- UTC
    death_records        INTEGER NOT NULL,
    activity_records     INTEGER NOT NULL
);
