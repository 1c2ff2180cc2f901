-- data_quality: one row per provider and reporting period (its current submission): lateness,
-- resubmissions, record actions, completeness of the required fields, warnings at validation,
-- category disagreements and deaths resolved as duplicates of another provider's record; and,
-- from spec 2.0.0 (build plan 2.6, 3.4, 4.5, 6.5, 9.4), how quickly deaths after discharge
-- reach the provider and whether a PDS trace found them, numbers that can never be matched,
-- deaths whose records disagree on the date, transfers the receiver has not reported, reviews
-- of no current death, records outside the reporting obligation, and old deaths with no cause.
-- The measures of deaths read the death records current at t, by the record's own provider and
-- reporting period; and whether the submitted activity differs from the MHSDS spells feed
-- (activity_differs, NULL where no spells cover the period). data_quality_as_at(t) is the same as it stood at time t (for reproducing a
-- publication); ages are counted to as_at_day(t).
CREATE OR REPLACE MACRO data_quality_as_at(as_at) AS TABLE
WITH
resubmitted AS (
    SELECT provider, reporting_period, count(*) - 1 AS resubmissions
    FROM submission WHERE received_at <= as_at GROUP BY ALL
),
actions AS (
    SELECT
        submission_id,
        count(*) FILTER (WHERE record_action = 'N') AS new_records,
        count(*) FILTER (WHERE record_action = 'U') AS updated_records,
        count(*) FILTER (WHERE record_action = 'D') AS withdrawn_records,
        round(100.0 * (
            {% for f in required %}
            count({{ f }}) FILTER (WHERE record_action <> 'D'){{ " +" if not loop.last }}
            {% endfor %}
        ) / nullif({{ required | length }} * count(*) FILTER (WHERE record_action <> 'D'), 0), 1)
            AS completeness_pct,
        count(*) FILTER (WHERE category_disagrees AND record_action <> 'D')
            AS category_disagreements
    FROM death_record GROUP BY submission_id
),
current_deaths AS (
    SELECT
        *,
        -- Records of one person that give more than one date of death (a conflict).
        min(death_date) OVER person <> max(death_date) OVER person AS in_date_conflict
    FROM deaths_as_at(as_at)
    WINDOW person AS (PARTITION BY coalesce(
        nhs_number_pseudonym, 'unmatched:' || org_id_provider || ':' || death_record_id))
),
resolved AS (
    SELECT org_id_provider AS provider, reporting_period, count(*) AS duplicates_resolved
    FROM current_deaths
    WHERE NOT counted AND attributed_provider <> org_id_provider
    GROUP BY ALL
),
measured AS (
    SELECT
        org_id_provider AS provider,
        reporting_period,
        -- Deaths after a live discharge (patient status 07): the ones a PDS trace finds.
        median(notification_lag_days) FILTER (WHERE patient_status_at_death = '07')
            AS notification_lag_median_days,
        quantile_cont(notification_lag_days, 0.9) FILTER (WHERE patient_status_at_death = '07')
            AS notification_lag_p90_days,
        round(100.0 * count(pds_traced_date) FILTER (WHERE patient_status_at_death = '07')
            / nullif(count(*) FILTER (WHERE patient_status_at_death = '07'), 0), 1)
            AS pds_traced_pct,
        round(100.0 * count(*) FILTER (WHERE notification_source = '02')
            / nullif(count(*), 0), 1) AS notified_by_pds_pct,
        -- No number found by a trace, or none present and none required: never matched.
        round(100.0 * count(*) FILTER (WHERE nhs_number_status IN ('04', '07'))
            / nullif(count(*), 0), 1) AS nhs_number_unmatchable_pct,
        count(*) FILTER (WHERE in_date_conflict) AS death_date_conflicts,
        count(*) FILTER (WHERE NOT in_reporting_scope) AS out_of_scope_records,
        -- A year after the death an inquest has usually concluded or the registration is in.
        round(100.0 * count(*) FILTER (
                WHERE cause_basis = 'NONE'
                  AND death_date < as_at_day(as_at) - INTERVAL 12 MONTH)
            / nullif(count(*) FILTER (
                WHERE death_date < as_at_day(as_at) - INTERVAL 12 MONTH), 0), 1)
            AS cause_none_over_12_months_pct
    FROM current_deaths
    GROUP BY ALL
),
unmatched AS (
    SELECT sending_provider AS sender, receiving_provider AS receiver, reporting_period
    FROM transfers_unmatched_as_at(as_at)
),
unmatched_sent AS (
    SELECT sender AS provider, reporting_period, count(*) AS transfers_unmatched_sent
    FROM unmatched GROUP BY ALL
),
unmatched_received AS (
    SELECT receiver AS provider, reporting_period, count(*) AS transfers_unmatched_received
    FROM unmatched GROUP BY ALL
),
orphans AS (
    SELECT org_id_provider AS provider, reporting_period, count(*) AS orphan_reviews
    FROM review_records_as_at(as_at) AS r
    WHERE r.record_action <> 'D'
      AND NOT EXISTS (
          SELECT 1
          FROM current_deaths AS d
          WHERE d.org_id_provider = r.org_id_provider AND d.death_record_id = r.death_record_id
      )
    GROUP BY ALL
)
SELECT
    s.provider,
    s.reporting_period,
    s.submission_id,
    s.spec_version,
    s.received_at,
    s.due_date,
    s.late,
    s.days_late,
    r.resubmissions,
    s.death_rows,
    coalesce(a.new_records, 0) AS new_records,
    coalesce(a.updated_records, 0) AS updated_records,
    coalesce(a.withdrawn_records, 0) AS withdrawn_records,
    a.completeness_pct,
    s.warnings,
    coalesce(a.category_disagreements, 0) AS category_disagreements,
    coalesce(d.duplicates_resolved, 0) AS duplicates_resolved,
    m.notification_lag_median_days,
    m.notification_lag_p90_days,
    m.pds_traced_pct,
    m.notified_by_pds_pct,
    m.nhs_number_unmatchable_pct,
    coalesce(m.death_date_conflicts, 0) AS death_date_conflicts,
    coalesce(us.transfers_unmatched_sent, 0) AS transfers_unmatched_sent,
    coalesce(ur.transfers_unmatched_received, 0) AS transfers_unmatched_received,
    coalesce(o.orphan_reviews, 0) AS orphan_reviews,
    coalesce(m.out_of_scope_records, 0) AS out_of_scope_records,
    m.cause_none_over_12_months_pct,
    x.activity_differs
FROM submissions_as_at(as_at) AS s
JOIN resubmitted AS r USING (provider, reporting_period)
LEFT JOIN actions AS a USING (submission_id)
LEFT JOIN resolved AS d USING (provider, reporting_period)
LEFT JOIN measured AS m USING (provider, reporting_period)
LEFT JOIN unmatched_sent AS us USING (provider, reporting_period)
LEFT JOIN unmatched_received AS ur USING (provider, reporting_period)
LEFT JOIN orphans AS o USING (provider, reporting_period)
LEFT JOIN (
    SELECT provider, reporting_period,
           admissions_differs OR discharges_live_differs OR deaths_in_spell_differs
               OR occupied_bed_days_differs AS activity_differs
    FROM activity_crosscheck_as_at(as_at)
) AS x USING (provider, reporting_period)
WHERE s.status = 'current';

CREATE OR REPLACE VIEW data_quality AS
SELECT * FROM data_quality_as_at(TIMESTAMP 'infinity');
