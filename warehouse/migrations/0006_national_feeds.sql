-- 0006: the national feeds (issue 16), loaded by the national analysts with
-- `mhdeaths warehouse load-feed`: death registrations and MHSDS inpatient spells, each file
-- validated against its feed's own spec (spec/feeds/<feed>/) and loaded in one transaction with
-- history, as a submission is. NHS numbers are stored only as the warehouse's pseudonyms, made
-- with the same key as the submissions' so that a person's spells, registration and reported
-- death link. A registration is stored only when it links (a spell in the reporting window, or a
-- death a provider reported): the rest are counted in feed_load and never written.

-- One row per feed file loaded (the registry of the feeds, as `submission` is of submissions).
CREATE TABLE feed_load (
    feed_load_id            INTEGER PRIMARY KEY,
    feed                    VARCHAR NOT NULL,   -- registrations | spells
    feed_version            VARCHAR NOT NULL,   -- the feed spec version it was validated against
    file_name               VARCHAR NOT NULL,   -- the name only, as the guard shows it, never the path
    file_format             VARCHAR NOT NULL,
    file_sha256             VARCHAR NOT NULL,
    file_size               BIGINT NOT NULL,
    linkage_state           VARCHAR,            -- registrations: what they were linked against
    received_at             TIMESTAMP NOT NULL, -- UTC
    loaded_at               TIMESTAMP NOT NULL, -- UTC
    covers_from             DATE,               -- registrations: first registration date; spells: first day of the first month
    covers_to               DATE,               -- registrations: last registration date; spells: last day of the last month
    rows_read               BIGINT NOT NULL,
    rows_kept               BIGINT NOT NULL,
    kept_by_spell           BIGINT,             -- registrations only
    kept_by_report_only     BIGINT,             -- registrations only
    rows_discarded_unlinked BIGINT,             -- registrations only: counted, never written
    rows_unlinkable         BIGINT NOT NULL,    -- no NHS number, or not a valid one
    verdict                 VARCHAR NOT NULL,   -- accepted | accepted_with_warnings
    warnings                INTEGER NOT NULL,
    validation_summary      JSON NOT NULL,      -- per-rule counts and per-field measures, no values
    key_fingerprint         VARCHAR NOT NULL,
    tool_version            VARCHAR NOT NULL
);

-- Kept death registrations (ONS via NHS England's Civil Registration - Deaths extract).
CREATE TABLE registration_record (
    feed_load_id             INTEGER NOT NULL,
    source_row               INTEGER NOT NULL,
    nhs_number_pseudonym     VARCHAR NOT NULL USING COMPRESSION uncompressed,
    death_date               DATE NOT NULL,
    registration_date        DATE NOT NULL,
    underlying_cause_icd10   VARCHAR,
    contributing_causes_icd10 VARCHAR[],
    place_of_death_type      VARCHAR,
    registered_sex           VARCHAR,
    age_at_death             INTEGER,
    residence_area           VARCHAR,
    kept_by                  VARCHAR NOT NULL    -- spell | report | both: why it was kept
);

-- MHSDS hospital provider spells (MHS501, with the person from MHS001 and the last ward stay's
-- ward type group), one row per spell per MHSDS month delivered.
CREATE TABLE spell_record (
    feed_load_id             INTEGER NOT NULL,
    source_row               INTEGER NOT NULL,
    org_id_provider          VARCHAR NOT NULL,
    hosp_prov_spell_id       VARCHAR NOT NULL,
    reporting_period         VARCHAR NOT NULL,
    nhs_number_pseudonym     VARCHAR USING COMPRESSION uncompressed,  -- NULL: no valid number; never links
    decision_to_admit_date   DATE,
    admission_date           DATE NOT NULL,
    discharge_date           DATE,
    discharge_method         VARCHAR,
    discharge_destination    VARCHAR,
    ward_type_group          VARCHAR
);
