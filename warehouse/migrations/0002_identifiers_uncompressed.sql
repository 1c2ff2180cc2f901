-- 0002: the NHS number pseudonym and the death record identifier are stored uncompressed.
--
-- Both are unique per record and near-random, so DuckDB's string compression (dictionary and
-- FSST) at most halves them, and compressing them was the costliest part of writing a large
-- submission: stored as they are, a 1,000,000-record load spends 0.8 s less CPU, for a file
-- 36 MB larger (a year of national deaths: under 1 MB). DuckDB cannot change a column's
-- compression in place, so the table is made again with the same columns and every row is
-- copied across. Anything else attached to the old table (an index or a comment someone added
-- by hand) goes with it; the warehouse itself makes neither.

CREATE TABLE death_record_0002 (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    death_record_id                VARCHAR USING COMPRESSION uncompressed,
    record_action                  VARCHAR,
    nhs_number_pseudonym           VARCHAR USING COMPRESSION uncompressed,
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
    family_involvement             VARCHAR,
    lfpse_event_id                 VARCHAR,
    lfpse_physical_harm            VARCHAR,
    cqc_notified                   VARCHAR,
    leder_notified                 VARCHAR,
    declared_death_category        VARCHAR,
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
INSERT INTO death_record_0002 BY NAME SELECT * FROM death_record;
DROP TABLE death_record;
ALTER TABLE death_record_0002 RENAME TO death_record;
