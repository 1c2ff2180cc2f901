-- due_date(period): the last day a submission for the period (CCYY-MM) is on time.
CREATE OR REPLACE MACRO due_date(period) AS
    last_day(CAST(strptime(period || '-01', '%Y-%m-%d') AS DATE) + INTERVAL {{ due_months }} MONTH);

-- submissions: every submission received, whether it is current or superseded, and whether it
-- was late. submissions_as_at(t) is the same as it stood at time t ("as submitted on date t").
CREATE OR REPLACE MACRO submissions_as_at(as_at) AS TABLE
SELECT
    s.submission_id,
    s.provider,
    s.reporting_period,
    s.spec_version,
    s.received_at,
    CASE WHEN nxt IS NULL THEN 'current' ELSE 'superseded' END AS status,
    nxt AS superseded_by,
    due_date,
    s.received_at >= due_date + INTERVAL 1 DAY AS late,
    greatest(date_diff('day', due_date, CAST(s.received_at AS DATE)), 0) AS days_late,
    s.death_rows,
    s.review_rows,
    s.pfd_addressee_rows,
    s.theme_rows,
    s.activity_rows,
    s.verdict,
    s.warnings,
    s.profile,
    s.content_sha256,
    s.loaded_at
FROM (
    SELECT
        *,
        lead(submission_id) OVER (
            PARTITION BY provider, reporting_period ORDER BY received_at, submission_id
        ) AS nxt,
        due_date(reporting_period) AS due_date
    FROM submission
    WHERE received_at <= as_at
) AS s;

CREATE OR REPLACE VIEW submissions AS
SELECT * FROM submissions_as_at(TIMESTAMP 'infinity');
