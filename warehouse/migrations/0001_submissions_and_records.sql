-- 0001: the submission registry and every record as submitted.
--
-- Append-only: once released, a migration never changes (its checksum is recorded when applied);
-- a later change is a new, higher-numbered file. Views and macros are not here: they are written
-- from the spec and warehouse/views/*.sql each time the warehouse is opened for writing.
--
-- Nothing here holds an identifier: the NHS number arrives as a keyed pseudonym, and the local
-- patient identifier, date of birth and postcode are never stored (age at death is derived first).

CREATE TABLE submission (
    submission_id        INTEGER PRIMARY KEY,
    provider             VARCHAR NOT NULL,   -- ODS code of the submitting provider
    reporting_period     VARCHAR NOT NULL,   -- CCYY-MM
    spec_version         VARCHAR NOT NULL,   -- the version the files were written to
    content_sha256       VARCHAR NOT NULL UNIQUE,  -- of the files' own SHA-256s, sorted
    received_at          TIMESTAMP NOT NULL, -- when the submission was received (UTC)
    loaded_at            TIMESTAMP NOT NULL, -- when it was loaded (UTC)
    death_rows           INTEGER NOT NULL,
    activity_rows        INTEGER NOT NULL,
    verdict              VARCHAR NOT NULL,   -- accepted | accepted_with_warnings
    warnings             INTEGER NOT NULL,   -- warning findings at validation
    profile              VARCHAR,            -- provider profile used, if any
    validation_summary   JSON NOT NULL,      -- per-rule counts and per-field measures, no values
    key_fingerprint      VARCHAR NOT NULL,   -- which pseudonym key made the pseudonyms
    canonical_version    VARCHAR NOT NULL,   -- spec version of the canonical model and definitions
    tool_version         VARCHAR NOT NULL
);

CREATE TABLE submission_file (
    submission_id        INTEGER NOT NULL,
    file_name            VARCHAR NOT NULL,   -- the name only, never the path
    format               VARCHAR NOT NULL,
    sha256               VARCHAR NOT NULL,
    size_bytes           BIGINT NOT NULL,
    tables               VARCHAR[] NOT NULL
);

-- One row per death record as submitted, in the canonical model (spec 1.1.0), with the agreed
-- definitions derived by the warehouse itself.
CREATE TABLE death_record (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,  -- CSV line or Excel row in the file
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    death_record_id                VARCHAR,
    record_action                  VARCHAR,
    nhs_number_pseudonym           VARCHAR,           -- HMAC-SHA256 of the normalised number
    gender_identity                VARCHAR,
    stated_gender                  VARCHAR,
    ethnic_category                VARCHAR,
    ld_autism_status               VARCHAR,
    death_date                     DATE,
    death_time                     TIME,
    death_date_basis               VARCHAR,
    notification_source            VARCHAR,
    date_provider_notified         DATE,
    patient_status_at_death        VARCHAR,
    place_of_death_type            VARCHAR,
    died_in_other_provider         VARCHAR,
    hosp_prov_spell_id             VARCHAR,
    admission_date                 DATE,
    discharge_date                 DATE,
    discharge_method               VARCHAR,
    discharge_destination          VARCHAR,
    ward_type_group                VARCHAR,
    detention_status               VARCHAR,
    restrictive_intervention_24h   VARCHAR,
    provisional_death_type         VARCHAR,
    underlying_cause_icd10         VARCHAR,
    me_outcome                     VARCHAR,
    inquest_status                 VARCHAR,
    inquest_conclusion             VARCHAR,
    pfd_report_issued              VARCHAR,
    review_method                  VARCHAR,
    review_completed_date          DATE,
    overall_care_rating            VARCHAR,
    problems_in_care_judgement     VARCHAR,
    family_involvement             VARCHAR,           -- since 1.1.0; NULL from 1.0.0 files
    lfpse_event_id                 VARCHAR,
    lfpse_physical_harm            VARCHAR,
    cqc_notified                   VARCHAR,
    leder_notified                 VARCHAR,
    declared_death_category        VARCHAR,
    -- Derived by the warehouse from the spec's definitions:
    days_discharge_to_death        BIGINT,
    inpatient_death                BOOLEAN,
    died_awaiting_admission        BOOLEAN,
    within_7_days                  BOOLEAN,
    within_30_days                 BOOLEAN,
    within_90_days                 BOOLEAN,
    same_day_death_after_discharge BOOLEAN,
    death_category                 VARCHAR,
    category_disagrees             BOOLEAN,
    age_at_death                   BIGINT,
    age_band                       VARCHAR,
    cause_icd10                    VARCHAR,
    cause_group                    VARCHAR
);

CREATE TABLE activity_record (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    age_band                       VARCHAR,
    stated_gender                  VARCHAR,
    admissions                     BIGINT,
    discharges_live                BIGINT,
    deaths_in_spell                BIGINT,
    occupied_bed_days              BIGINT,
    leave_days                     BIGINT,
    awol_days                      BIGINT,
    detained_bed_days              BIGINT,
    open_spells_end                BIGINT,
    distinct_patients              BIGINT
);
