-- pfd_addressee_records_as_at(t): each addressee of a coroner's Prevention of Future Deaths
-- report as it stood at time t (spec 2.0.0's pfd_addressee table). Every action received by
-- then counts, in order of receipt, by provider, death record and addressee: N adds an
-- addressee, U replaces it (a response sent later arrives this way), D withdraws it.
{% from "_records_as_at.jinja" import records_as_at %}
{{ records_as_at("pfd_addressee_records_as_at", "pfd_addressee_record", "p", ["org_id_provider", "death_record_id", "addressee_id"]) }}

-- pfd_responses_on(t, day): each addressee current at t and its response (build plan 5.6). A
-- response is overdue when none was sent and its due date (56 days after the report, Regulation
-- 29) had passed on the day asked about. pfd_responses_as_at(t) asks on as_at_day(t), today for
-- the current view; a benchmark asks on its own day (the day after its period, or its as-at).
CREATE OR REPLACE MACRO pfd_responses_on(as_at, day) AS TABLE
SELECT
    * EXCLUDE (received_at),
    response_sent_date IS NULL AND response_due_date < day AS overdue,
    CASE WHEN response_sent_date IS NULL AND response_due_date < day
         THEN date_diff('day', response_due_date, day) END AS days_overdue
FROM pfd_addressee_records_as_at(as_at)
WHERE record_action <> 'D';

CREATE OR REPLACE MACRO pfd_responses_as_at(as_at) AS TABLE
SELECT * FROM pfd_responses_on(as_at, as_at_day(as_at));

CREATE OR REPLACE VIEW pfd_responses AS
SELECT * FROM pfd_responses_as_at(TIMESTAMP 'infinity');

-- Every addressee record ever submitted, in every submission, superseded or not.
CREATE OR REPLACE VIEW pfd_addressee_history AS
SELECT p.*, s.received_at, s.status AS submission_status
FROM pfd_addressee_record AS p
JOIN submissions AS s USING (submission_id);

-- inquests_open_over_12_months_on(t, day): deaths counted at t whose inquest was opened more
-- than 12 months before the day asked about and is still open: the coroner's long waits, a
-- sentinel count beside the responses to reports. The _as_at(t) form asks on as_at_day(t).
CREATE OR REPLACE MACRO inquests_open_over_12_months_on(as_at, day) AS TABLE
SELECT
    attributed_provider,
    org_id_provider,
    death_record_id,
    reporting_period,
    inquest_opened_date,
    date_diff('month', inquest_opened_date, day) AS months_open
FROM deaths_as_at(as_at)
WHERE counted
  AND inquest_status = 'O'
  AND inquest_opened_date < day - INTERVAL 12 MONTH;

CREATE OR REPLACE MACRO inquests_open_over_12_months_as_at(as_at) AS TABLE
SELECT * FROM inquests_open_over_12_months_on(as_at, as_at_day(as_at));

CREATE OR REPLACE VIEW inquests_open_over_12_months AS
SELECT * FROM inquests_open_over_12_months_as_at(TIMESTAMP 'infinity');
