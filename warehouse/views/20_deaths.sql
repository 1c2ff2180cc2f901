-- death_records_as_at(t): each provider's death records as they stood at time t. Every action
-- received by then counts, in order of receipt: N adds a record, U replaces the record with the
-- same death_record_id, D withdraws it. A record that a resubmission does not mention stays as it
-- was (only a D withdraws it).
{% from "_records_as_at.jinja" import records_as_at %}
{{ records_as_at("death_records_as_at", "death_record", "r", ["org_id_provider", "death_record_id"]) }}

-- deaths_as_at(t): every death not withdrawn, as at time t, with the spec's attribution applied.
-- Records of one death ({{ match_description }}) are ranked by the spec's attribution order; the
-- first is counted, the others are duplicates resolved. A record without an NHS number cannot be
-- matched and stands alone. Each death carries what its reviews add up to at t (15_reviews.sql),
-- whether a review is needed (the provider screened it in, or it meets a national red flag), and
-- its Mental Health Act group at death: derived from the legal status at death for 2.0.0 records,
-- and for 1.x records the grouped status they sent, read as at death only where the person died
-- in an open spell or awaiting admission (for a death after discharge it was the status then).
-- Once a death registration of the person is loaded (12_feeds.sql), its registered underlying
-- cause stands in place of the provider's (source R) and the cause definitions are derived again
-- from it; the provider's own code is kept beside it (reported_underlying_cause_icd10), and the
-- record as submitted stays in death_history.
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
    FROM ({{ registered_deaths | indent(4) }}) AS r
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

-- as_at_day(t): the day a question "as at t" is asked on: t's own date, or today for the
-- current views (which ask as at TIMESTAMP 'infinity'), so that ages in days stay finite.
CREATE OR REPLACE MACRO as_at_day(as_at) AS
    CASE WHEN isinf(as_at) THEN current_date ELSE CAST(as_at AS DATE) END;

-- duplicate_deaths_as_at(t): each death reported by more than one record, matched as deaths_as_at
-- matches them (the pseudonym alone: a person dies once). The pseudonym itself is left out:
-- nothing a person reads here needs it, and `reported_as` names every record, so an analyst who
-- must follow a death further joins `deaths` by provider and record id. `death_date` is the
-- counted record's own (build plan Q9: category and date come from one coherent record); the
-- others' dates show in `dates_of_death` and `days_apart`.
CREATE OR REPLACE MACRO duplicate_deaths_as_at(as_at) AS TABLE
SELECT
    min(death_date) FILTER (WHERE counted) AS death_date,
    count(*) AS records,
    string_agg(org_id_provider || ':' || death_record_id, ', ' ORDER BY attribution_rank) AS reported_as,
    any_value(attributed_provider) AS attributed_provider,
    count(DISTINCT death_date) AS dates_of_death,
    date_diff('day', min(death_date), max(death_date)) AS days_apart,
    string_agg(CAST(death_date AS VARCHAR), ', ' ORDER BY attribution_rank) AS death_dates,
    string_agg(coalesce(death_date_basis, '-'), ', ' ORDER BY attribution_rank) AS death_date_bases
FROM deaths_as_at(as_at)
WHERE times_reported > 1 AND nhs_number_pseudonym IS NOT NULL
GROUP BY nhs_number_pseudonym;

CREATE OR REPLACE VIEW duplicate_deaths AS
SELECT * EXCLUDE (death_dates, death_date_bases)
FROM duplicate_deaths_as_at(TIMESTAMP 'infinity');

-- death_date_conflicts_as_at(t): deaths whose records disagree on the date of death (build plan
-- 3.4). Still one death, counted once with the attributed record's date; listed so that the
-- providers can settle which date is right. `death_dates` and `death_date_bases` follow the
-- order of `reported_as`.
CREATE OR REPLACE MACRO death_date_conflicts_as_at(as_at) AS TABLE
SELECT
    reported_as,
    attributed_provider,
    death_date,
    dates_of_death,
    days_apart,
    death_dates,
    death_date_bases
FROM duplicate_deaths_as_at(as_at)
WHERE dates_of_death > 1;

CREATE OR REPLACE VIEW death_date_conflicts AS
SELECT * FROM death_date_conflicts_as_at(TIMESTAMP 'infinity');

-- transfers_unmatched_as_at(t): deaths after a transfer discharge (build plan 4.5) that the
-- receiving provider has not reported. The person was moved to another provider's inpatient
-- care and died within 30 days, so the receiving provider should hold a record of the same
-- person; until it does, the death is counted against the sender and the receiver's figures miss
-- it. A record without an NHS number cannot be matched, so it is listed too.
CREATE OR REPLACE MACRO transfers_unmatched_as_at(as_at) AS TABLE
WITH current_deaths AS (SELECT * FROM deaths_as_at(as_at))
SELECT
    d.org_id_provider AS sending_provider,
    d.death_record_id,
    d.receiving_provider,
    d.reporting_period,
    date_diff('day', d.death_date, as_at_day(as_at)) AS days_since_death
FROM current_deaths AS d
WHERE d.transfer_discharge
  AND d.death_category = 'D30'
  AND NOT EXISTS (
      SELECT 1
      FROM current_deaths AS r
      WHERE r.nhs_number_pseudonym = d.nhs_number_pseudonym
        AND r.org_id_provider = d.receiving_provider
  );

CREATE OR REPLACE VIEW transfers_unmatched AS
SELECT * FROM transfers_unmatched_as_at(TIMESTAMP 'infinity');

-- deaths_in_state_detention: a sentinel list (build plan 5.6), each counted death of a person
-- detained at death, by provider and month of death, to be looked at one by one: no rate, as the
-- denominator (detained bed days by the strata it needs) is not there yet. A 2.0.0 record says
-- so itself (died_in_state_detention); a 1.x record only through its grouped status (detained
-- under Part 2 or 3, or in a place of safety), read as at death only where the person died in an
-- open spell or awaiting admission.
CREATE OR REPLACE VIEW deaths_in_state_detention AS
SELECT
    attributed_provider AS provider,
    strftime(death_date, '%Y-%m') AS death_month,
    org_id_provider,
    death_record_id,
    reporting_period,
    detention_group,
    death_category,
    cause_group,
    cqc_notified,
    coroner_reported_date,
    inquest_status
FROM deaths
WHERE counted
  AND coalesce(
      died_in_state_detention,
      detention_group_1x IN ('02', '03', '04')
          AND patient_status_at_death IN ('01', '02', '03', '04', '05', '06', '08')
  );
