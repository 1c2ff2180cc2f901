-- data_quality: one row per provider and reporting period (its current submission): lateness,
-- resubmissions, record actions, completeness of the required fields, warnings at validation,
-- category disagreements and deaths resolved as duplicates of another provider's record.
-- data_quality_as_at(t) is the same as it stood at time t (for reproducing a publication).
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
resolved AS (
    SELECT org_id_provider AS provider, reporting_period, count(*) AS duplicates_resolved
    FROM deaths_as_at(as_at)
    WHERE NOT counted AND attributed_provider <> org_id_provider
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
    coalesce(d.duplicates_resolved, 0) AS duplicates_resolved
FROM submissions_as_at(as_at) AS s
JOIN resubmitted AS r USING (provider, reporting_period)
LEFT JOIN actions AS a USING (submission_id)
LEFT JOIN resolved AS d USING (provider, reporting_period)
WHERE s.status = 'current';

CREATE OR REPLACE VIEW data_quality AS
SELECT * FROM data_quality_as_at(TIMESTAMP 'infinity');
