-- theme_records_as_at(t): each recurring theme a death's review found, as it stood at time t
-- (spec 2.0.0's theme table). Every action received by then counts, in order of receipt, by
-- provider, death record and theme: N adds a theme, U sends it again, D withdraws it.
{% from "_records_as_at.jinja" import records_as_at %}
{{ records_as_at("theme_records_as_at", "theme_record", "t", ["org_id_provider", "death_record_id", "theme"]) }}

-- themes_as_at(t): the themes of the deaths counted at t, each with the provider the death is
-- attributed to, its date and category: what the recurring-themes table counts.
CREATE OR REPLACE MACRO themes_as_at(as_at) AS TABLE
SELECT
    d.attributed_provider,
    t.org_id_provider,
    t.death_record_id,
    d.reporting_period,
    d.death_date,
    d.death_category,
    t.theme,
    t.review_id
FROM theme_records_as_at(as_at) AS t
JOIN deaths_as_at(as_at) AS d USING (org_id_provider, death_record_id)
WHERE t.record_action <> 'D'
  AND d.counted;

CREATE OR REPLACE VIEW themes AS
SELECT * FROM themes_as_at(TIMESTAMP 'infinity');

-- Every theme record ever submitted, in every submission, superseded or not.
CREATE OR REPLACE VIEW theme_history AS
SELECT t.*, s.received_at, s.status AS submission_status
FROM theme_record AS t
JOIN submissions AS s USING (submission_id);
