-- death_records_as_at(t): each provider's death records as they stood at time t. Every action
-- received by then counts, in order of receipt: N adds a record, U replaces the record with the
-- same death_record_id, D withdraws it. A record that a resubmission does not mention stays as it
-- was (only a D withdraws it).
CREATE OR REPLACE MACRO death_records_as_at(as_at) AS TABLE
SELECT r.*, s.received_at
FROM death_record AS r
JOIN submission AS s USING (submission_id)
WHERE s.received_at <= as_at
QUALIFY row_number() OVER (
    PARTITION BY r.org_id_provider, r.death_record_id
    ORDER BY s.received_at DESC, r.submission_id DESC, r.source_row DESC
) = 1;

-- deaths_as_at(t): every death not withdrawn, as at time t, with the spec's attribution applied.
-- Records of one death ({{ match_description }}) are ranked by the spec's attribution order; the
-- first is counted, the others are duplicates resolved. A record without an NHS number cannot be
-- matched and stands alone. Each death carries what its reviews add up to at t (15_reviews.sql),
-- whether a review is needed (the provider screened it in, or it meets a national red flag), and
-- its Mental Health Act group at death: derived from the legal status at death for 2.0.0 records,
-- and for 1.x records the grouped status they sent, read as at death only where the person died
-- in an open spell or awaiting admission (for a death after discharge it was the status then).
CREATE OR REPLACE MACRO deaths_as_at(as_at) AS TABLE
SELECT
    d.* EXCLUDE (_match),
    count(*) OVER (PARTITION BY {{ partition }}) AS times_reported,
    row_number() OVER ({{ window }}) AS attribution_rank,
    row_number() OVER ({{ window }}) = 1 AS counted,
    first_value(org_id_provider) OVER ({{ window }}) AS attributed_provider
FROM (
    SELECT
        r.*,
        coalesce(v.reviews, 0) AS reviews,
        v.* EXCLUDE (org_id_provider, death_record_id, reviews),
        coalesce(r.review_required = 'Y', FALSE) OR coalesce(r.review_expected, FALSE)
            AS review_needed,
        coalesce(
            r.detention_group_at_death,
            CASE WHEN r.patient_status_at_death IN ('01', '02', '03', '04', '05', '06', '08')
                 THEN r.detention_group_1x END
        ) AS detention_group,
        coalesce(nhs_number_pseudonym, 'unmatched:' || r.org_id_provider || ':' || r.death_record_id)
            AS _match
    FROM death_records_as_at(as_at) AS r
    LEFT JOIN review_summary_as_at(as_at) AS v USING (org_id_provider, death_record_id)
    WHERE r.record_action <> 'D'
) AS d;

CREATE OR REPLACE VIEW deaths AS
SELECT * FROM deaths_as_at(TIMESTAMP 'infinity');

-- Every death record ever submitted, in every submission, superseded or not.
CREATE OR REPLACE VIEW death_history AS
SELECT r.*, s.received_at, s.status AS submission_status
FROM death_record AS r
JOIN submissions AS s USING (submission_id);

CREATE OR REPLACE VIEW category_disagreements AS
SELECT
    org_id_provider,
    reporting_period,
    death_record_id,
    declared_death_category,
    death_category,
    days_discharge_to_death,
    patient_status_at_death
FROM deaths
WHERE category_disagrees;

CREATE OR REPLACE VIEW duplicate_deaths AS
SELECT
    nhs_number_pseudonym,
    death_date,
    count(*) AS records,
    string_agg(org_id_provider || ':' || death_record_id, ', ' ORDER BY attribution_rank) AS reported_as,
    any_value(attributed_provider) AS attributed_provider
FROM deaths
WHERE times_reported > 1
GROUP BY nhs_number_pseudonym, death_date;
