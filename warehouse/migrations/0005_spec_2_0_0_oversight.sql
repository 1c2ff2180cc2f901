-- Spec 2.0.0, part 2 (issue 15): what national oversight needs to see. The death record gains the
-- oversight, case-mix, follow-up, method, candour and reference fields and three derived ones;
-- recurring themes get a child table of their own; activity is counted by ward type group and
-- broad ethnic group as well. Records already stored get NULL in the new fields (their versions
-- did not collect them) and are derived again when the warehouse is next opened for writing, as
-- after every change of the draft definitions; activity stored before now had no such strata and
-- falls in the "not known" ones, as 1.x activity does.

ALTER TABLE death_record ADD COLUMN ethnic_category_2021 VARCHAR;
ALTER TABLE death_record ADD COLUMN imd_decile BIGINT;
ALTER TABLE death_record ADD COLUMN org_id_sub_icb_residence VARCHAR;
ALTER TABLE death_record ADD COLUMN primary_diagnosis_icd10 VARCHAR;
ALTER TABLE death_record ADD COLUMN first_contact_after_discharge_date DATE;
ALTER TABLE death_record ADD COLUMN site_of_treatment VARCHAR;
ALTER TABLE death_record ADD COLUMN org_id_commissioner VARCHAR;
ALTER TABLE death_record ADD COLUMN independent_sector_bed VARCHAR;
ALTER TABLE death_record ADD COLUMN out_of_area_placement VARCHAR;
ALTER TABLE death_record ADD COLUMN out_of_area_reason VARCHAR;
ALTER TABLE death_record ADD COLUMN method_of_death VARCHAR;
ALTER TABLE death_record ADD COLUMN ligature_type VARCHAR;
ALTER TABLE death_record ADD COLUMN ligature_anchor VARCHAR;
ALTER TABLE death_record ADD COLUMN observation_level VARCHAR;
ALTER TABLE death_record ADD COLUMN duty_of_candour_date DATE;
ALTER TABLE death_record ADD COLUMN review_findings_shared VARCHAR;
ALTER TABLE death_record ADD COLUMN cqc_reference VARCHAR;
ALTER TABLE death_record ADD COLUMN leder_reference VARCHAR;
ALTER TABLE death_record ADD COLUMN ncmd_reference VARCHAR;
-- Derived by the warehouse from the spec's definitions:
ALTER TABLE death_record ADD COLUMN ethnic_group VARCHAR;
ALTER TABLE death_record ADD COLUMN diagnosis_group VARCHAR;
ALTER TABLE death_record ADD COLUMN followed_up_within_72h BOOLEAN;

ALTER TABLE activity_record ADD COLUMN ward_type_group VARCHAR;
ALTER TABLE activity_record ADD COLUMN ethnic_group VARCHAR;
UPDATE activity_record SET ward_type_group = '99', ethnic_group = 'U';

CREATE TABLE theme_record (
    submission_id                  INTEGER NOT NULL,
    source_row                     INTEGER NOT NULL,
    spec_version                   VARCHAR,
    org_id_provider                VARCHAR,
    reporting_period               VARCHAR,
    death_record_id                VARCHAR,
    record_action                  VARCHAR,
    theme                          VARCHAR,
    review_id                      VARCHAR,
    definitions_version            VARCHAR            -- spec version of the definitions
);

ALTER TABLE submission ADD COLUMN theme_rows INTEGER;
UPDATE submission SET theme_rows = 0;
ALTER TABLE derivation_run ADD COLUMN theme_records INTEGER;
