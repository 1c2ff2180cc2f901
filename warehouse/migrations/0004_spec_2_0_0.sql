-- 0004: the canonical model follows spec 2.0.0 (build plan, sections 9.1 and 9.2).
--
-- Every record loaded before keeps its place and its stored values, moved into the 2.0.0 shape
-- the way warehouse/canonical.yaml maps a 1.x submission loaded from now on:
--   * the death's single review (1.x review_method ... family_involvement) becomes one row of the
--     new review table, review_id 'legacy': a withdrawal (D) where the record has no review (none,
--     or 10 "no review"), so that a 1.x update that dropped the review still replaces it;
--   * provisional_death_type becomes manner_of_death, its circumstance codes 06 and 07 become 05
--     ("other non-natural"), and 06 ("drugs or alcohol") is kept as drug_alcohol_involvement Y;
--   * an ICD-10 underlying cause from 1.x is taken as the registered one (source R);
--   * detention_status is kept as the legacy column detention_group_1x (grouped codes cannot be
--     turned back into the ungrouped legal status 2.0.0 records);
--   * the fields 2.0.0 adds are NULL for these records; within_90_days is gone (2.0.0 counts
--     three calendar months, within_3_months).
-- The death and activity tables are made again with their 2.0.0 columns in order (as 0002 did),
-- since most of their columns move. Derived columns are left NULL with no definitions version:
-- the same transaction then derives every record under 2.0.0 (src/mhdeaths/warehouse/rederive.py),
-- so no reader sees a half-derived warehouse.

-- One row per review of a death (spec 2.0.0 table review), as submitted.
CREATE TABLE review_record (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    death_record_id                VARCHAR,
    record_action                  VARCHAR,
    review_id                      VARCHAR,
    review_method                  VARCHAR,
    review_started_date            DATE,
    review_completed_date          DATE,
    overall_care_rating            VARCHAR,
    problems_in_care_judgement     VARCHAR,
    family_involvement             VARCHAR,
    -- Derived by the warehouse from the spec's definitions:
    review_kind                    VARCHAR,
    definitions_version            VARCHAR            -- spec version of the definitions
);

-- One row per addressee of a coroner's Prevention of Future Deaths report (table pfd_addressee).
CREATE TABLE pfd_addressee_record (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    death_record_id                VARCHAR,
    record_action                  VARCHAR,
    pfd_reference                  VARCHAR,
    pfd_date                       DATE,
    addressee_id                   VARCHAR,
    addressee_type                 VARCHAR,
    addressee_ods                  VARCHAR,
    response_sent_date             DATE,
    -- Derived by the warehouse from the spec's definitions:
    response_due_date              DATE,
    response_on_time               BOOLEAN,
    definitions_version            VARCHAR            -- spec version of the definitions
);

INSERT INTO review_record BY NAME
SELECT submission_id, source_row, spec_version, org_id_provider, reporting_period,
       death_record_id,
       CASE WHEN review_method IS NULL OR review_method = '10' THEN 'D'
            ELSE record_action END AS record_action,
       'legacy' AS review_id, review_method, review_completed_date, overall_care_rating,
       problems_in_care_judgement, family_involvement
FROM death_record;

-- One row per death record as submitted, in the canonical model (spec 2.0.0), with the agreed
-- definitions derived by the warehouse itself.
CREATE TABLE death_record_0004 (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    death_record_id                VARCHAR USING COMPRESSION uncompressed,
    record_action                  VARCHAR,
    nhs_number_pseudonym           VARCHAR USING COMPRESSION uncompressed,
    nhs_number_status              VARCHAR,
    gender_identity                VARCHAR,
    stated_gender                  VARCHAR,
    ethnic_category                VARCHAR,
    ld_autism_status               VARCHAR,
    death_date                     DATE,
    death_time                     TIME,
    death_date_basis               VARCHAR,
    notification_source            VARCHAR,
    date_provider_notified         DATE,
    pds_traced_date                DATE,
    patient_status_at_death        VARCHAR,
    place_of_death_type            VARCHAR,
    died_in_other_provider         VARCHAR,
    decision_to_admit_date         DATE,
    hosp_prov_spell_id             VARCHAR,
    admission_date                 DATE,
    discharge_date                 DATE,
    discharge_method               VARCHAR,
    discharge_destination          VARCHAR,
    receiving_provider             VARCHAR,
    ward_type_group                VARCHAR,
    legal_status_at_death          VARCHAR,
    legal_status_at_discharge      VARCHAR,
    cto_at_death                   VARCHAR,
    restrictive_intervention_24h   VARCHAR,
    manner_of_death                VARCHAR,
    drug_alcohol_involvement       VARCHAR,
    underlying_cause_source        VARCHAR,
    underlying_cause_icd10         VARCHAR,
    me_outcome                     VARCHAR,
    inquest_status                 VARCHAR,
    inquest_conclusion             VARCHAR,
    pfd_report_issued              VARCHAR,
    coroner_reported_date          DATE,
    coroner_reference              VARCHAR,
    inquest_opened_date            DATE,
    inquest_concluded_date         DATE,
    pfd_reference                  VARCHAR,
    pfd_date                       DATE,
    review_required                VARCHAR,
    concerns_raised                VARCHAR,
    psychosis_or_eating_disorder   VARCHAR,
    under_crisis_team_at_death     VARCHAR,
    lfpse_event_id                 VARCHAR,
    lfpse_physical_harm            VARCHAR,
    cqc_notified                   VARCHAR,
    leder_notified                 VARCHAR,
    cdr_notified                   VARCHAR,
    declared_death_category        VARCHAR,
    -- Derived by the warehouse from the spec's definitions:
    days_discharge_to_death        BIGINT,
    transfer_discharge             BOOLEAN,
    inpatient_death                BOOLEAN,
    died_awaiting_admission        BOOLEAN,
    within_7_days                  BOOLEAN,
    within_30_days                 BOOLEAN,
    within_3_months                BOOLEAN,
    in_reporting_scope             BOOLEAN,
    notification_lag_days          BIGINT,
    same_day_death_after_discharge BOOLEAN,
    death_category                 VARCHAR,
    review_expected                BOOLEAN,
    category_disagrees             BOOLEAN,
    age_at_death                   BIGINT,
    age_band                       VARCHAR,
    age_band_child                 VARCHAR,
    cause_icd10                    VARCHAR,
    icd_cause_class                VARCHAR,
    inquest_cause_class            VARCHAR,
    provisional_cause_class        VARCHAR,
    cause_basis                    VARCHAR,
    cause_class                    VARCHAR,
    cause_group                    VARCHAR,
    detention_group_at_death       VARCHAR,
    died_in_state_detention        BOOLEAN,
    ncish_suicide                  BOOLEAN,
    cause_sources_disagree         BOOLEAN,
    detention_group_1x             VARCHAR,  -- 1.x detention_status (legacy; NULL from 2.0.0 files)
    definitions_version            VARCHAR            -- spec version of the definitions
);
INSERT INTO death_record_0004 BY NAME
SELECT * EXCLUDE (provisional_death_type, detention_status, review_method,
                  review_completed_date, overall_care_rating, problems_in_care_judgement,
                  family_involvement, within_90_days, definitions_version,
                  days_discharge_to_death, inpatient_death, died_awaiting_admission,
                  within_7_days, within_30_days, same_day_death_after_discharge,
                  death_category, category_disagrees, age_band, cause_icd10, cause_group),
       CASE WHEN provisional_death_type IN ('06', '07') THEN '05'
            ELSE provisional_death_type END AS manner_of_death,
       CASE WHEN provisional_death_type = '06' THEN 'Y' END AS drug_alcohol_involvement,
       CASE WHEN underlying_cause_icd10 IS NOT NULL THEN 'R' END AS underlying_cause_source,
       detention_status AS detention_group_1x
FROM death_record;
DROP TABLE death_record;
ALTER TABLE death_record_0004 RENAME TO death_record;

CREATE TABLE activity_record_0004 (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    age_band                       VARCHAR,
    stated_gender                  VARCHAR,
    admissions                     BIGINT,
    discharges_live                BIGINT,
    discharges_transfer            BIGINT,
    deaths_in_spell                BIGINT,
    occupied_bed_days              BIGINT,
    leave_days                     BIGINT,
    awol_days                      BIGINT,
    detained_bed_days              BIGINT,
    open_spells_end                BIGINT,
    distinct_patients              BIGINT,
    -- Derived by the warehouse from the spec's definitions:
    discharges_non_transfer        BIGINT,
    definitions_version            VARCHAR            -- spec version of the definitions
);
INSERT INTO activity_record_0004 BY NAME
SELECT * EXCLUDE (definitions_version) FROM activity_record;
DROP TABLE activity_record;
ALTER TABLE activity_record_0004 RENAME TO activity_record;

-- Rows of the new tables in each submission's files: none in any loaded before (all 1.x).
ALTER TABLE submission ADD COLUMN review_rows INTEGER;
ALTER TABLE submission ADD COLUMN pfd_addressee_rows INTEGER;
UPDATE submission SET review_rows = 0, pfd_addressee_rows = 0;

-- Each derivation run counts the records of the new tables too.
ALTER TABLE derivation_run ADD COLUMN review_records INTEGER;
ALTER TABLE derivation_run ADD COLUMN pfd_addressee_records INTEGER;
