-- Linkage of death registrations to MHSDS spells, and the reconciliation of what providers
-- reported against what the national feeds say happened (issue 16). Nothing here is stored: it
-- is computed from the kept registrations, the spells and the death records as they stood at a
-- time, under the canonical version's own definitions. No view shows a pseudonym: records are
-- named by provider and death_record_id, spells by provider and spell id.

-- linked_candidates_as_at(t): each registration with each spell of the same person in the
-- linkage window (open at death, or a live discharge at most 3 calendar months before), as a
-- death record the spell's provider would have made, derived by the canonical definitions and
-- ranked by the spec's attribution order (candidate_rank 1 is the index spell).
CREATE OR REPLACE MACRO linked_candidates_as_at(as_at) AS TABLE
{{ linked_candidates }};

-- expected_deaths_as_at(t): one row per registered death linked to a spell (its index spell),
-- with its derived category, and whether the expected provider (or another) reported it.
CREATE OR REPLACE MACRO expected_deaths_as_at(as_at) AS TABLE
WITH
e AS (SELECT * FROM linked_candidates_as_at(as_at) WHERE candidate_rank = 1),
rep AS (
    SELECT nhs_number_pseudonym, org_id_provider, death_record_id, attributed_provider
    FROM deaths_as_at(as_at)
    WHERE nhs_number_pseudonym IS NOT NULL
)
SELECT
    e.org_id_provider AS expected_provider,
    strftime(e.death_date, '%Y-%m') AS death_month,
    e.death_date,
    e.registration_date,
    date_diff('day', e.death_date, e.registration_date) AS registration_lag_days,
    e.death_category,
    e.spell_open_at_death,
    e.days_discharge_to_death,
    e.within_30_days,
    e.within_3_months,
    e.in_reporting_scope,
    e.transfer_discharge,
    e.hosp_prov_spell_id,
    e.admission_date,
    e.discharge_date,
    e.ward_type_group,
    e.age_band,
    e.stated_gender,
    e.cause_group,
    e.cause_basis,
    e.ncish_suicide,
    coalesce(bool_or(rep.org_id_provider = e.org_id_provider), FALSE) AS reported,
    coalesce(bool_or(rep.org_id_provider <> e.org_id_provider), FALSE) AS reported_elsewhere,
    string_agg(rep.org_id_provider || ':' || rep.death_record_id, ', '
               ORDER BY rep.org_id_provider, rep.death_record_id) AS reported_as,
    string_agg(DISTINCT rep.org_id_provider, ', ' ORDER BY rep.org_id_provider)
        FILTER (WHERE rep.org_id_provider <> e.org_id_provider) AS reported_elsewhere_by,
    any_value(rep.attributed_provider) AS counted_provider,
    e.nhs_number_pseudonym
FROM e
LEFT JOIN rep USING (nhs_number_pseudonym)
GROUP BY ALL;

CREATE OR REPLACE VIEW expected_deaths AS
SELECT * EXCLUDE (nhs_number_pseudonym) FROM expected_deaths_as_at(TIMESTAMP 'infinity');

-- feeds_loaded_to(t): how far the feeds loaded by t reach (registration dates, spell months).
CREATE OR REPLACE MACRO feeds_loaded_to(as_at) AS TABLE
SELECT
    max(covers_to) FILTER (WHERE feed = 'registrations') AS registrations_loaded_to,
    max(covers_to) FILTER (WHERE feed = 'spells') AS spells_loaded_to
FROM feed_load
WHERE received_at <= as_at;

-- deaths_missed: registered deaths in the reporting obligation, linked to a provider's spell,
-- that the provider has not reported (whoever else did: reported_elsewhere_by).
CREATE OR REPLACE MACRO deaths_missed_as_at(as_at) AS TABLE
SELECT
    expected_provider, death_month, death_category, days_discharge_to_death, hosp_prov_spell_id,
    discharge_date, registration_date, reported_elsewhere_by,
    date_diff('day', registration_date, as_at_day(as_at)) AS days_since_registration
FROM expected_deaths_as_at(as_at)
WHERE in_reporting_scope AND NOT reported;

CREATE OR REPLACE VIEW deaths_missed AS
SELECT * FROM deaths_missed_as_at(TIMESTAMP 'infinity')
ORDER BY expected_provider, death_month, hosp_prov_spell_id;

-- deaths_not_yet_registered: counted deaths in the reporting obligation, with an NHS number,
-- of which no registration is kept (registration lag, an inquest pending, or a wrong number).
CREATE OR REPLACE MACRO deaths_not_yet_registered_as_at(as_at) AS TABLE
SELECT
    d.attributed_provider,
    d.org_id_provider || ':' || d.death_record_id AS reported_as,
    strftime(d.death_date, '%Y-%m') AS death_month,
    d.death_category,
    date_diff('day', d.death_date, as_at_day(as_at)) AS days_since_death,
    d.inquest_status,
    d.coroner_reported_date,
    coalesce(d.death_date < f.registrations_loaded_to - 7, FALSE) AS within_registrations_loaded
FROM deaths_as_at(as_at) AS d, feeds_loaded_to(as_at) AS f
WHERE d.counted AND d.in_reporting_scope AND d.nhs_number_pseudonym IS NOT NULL
  AND NOT d.registered;

CREATE OR REPLACE VIEW deaths_not_yet_registered AS
SELECT * FROM deaths_not_yet_registered_as_at(TIMESTAMP 'infinity')
ORDER BY attributed_provider, death_month, reported_as;

-- deaths_attributed_elsewhere: a provider's record of a death the spells attribute to another.
CREATE OR REPLACE MACRO deaths_attributed_elsewhere_as_at(as_at) AS TABLE
SELECT
    d.org_id_provider AS reporting_provider,
    d.org_id_provider || ':' || d.death_record_id AS reported_as,
    e.expected_provider,
    strftime(e.death_date, '%Y-%m') AS death_month,
    d.death_category AS reported_category,
    e.death_category AS expected_category,
    e.reported AS expected_provider_reported
FROM deaths_as_at(as_at) AS d
JOIN expected_deaths_as_at(as_at) AS e USING (nhs_number_pseudonym)
WHERE d.org_id_provider <> e.expected_provider;

CREATE OR REPLACE VIEW deaths_attributed_elsewhere AS
SELECT * FROM deaths_attributed_elsewhere_as_at(TIMESTAMP 'infinity')
ORDER BY reporting_provider, death_month, reported_as;

-- registration_disagreements: a counted death and its registration disagree: on the category
-- (the reported record's against the linked one's), on the cause group (the provider's own cause
-- fields against the registered cause), or on the date of death.
CREATE OR REPLACE MACRO registration_disagreements_as_at(as_at) AS TABLE
WITH matched AS (
    SELECT
        d.org_id_provider || ':' || d.death_record_id AS reported_as,
        d.attributed_provider,
        e.expected_provider,
        strftime(d.death_date, '%Y-%m') AS death_month,
        d.death_category AS reported_category,
        e.death_category AS expected_category,
        s.cause_group AS reported_cause_group,
        d.cause_group AS registered_cause_group,
        d.death_date AS reported_death_date,
        g.death_date AS registered_death_date
    FROM deaths_as_at(as_at) AS d
    JOIN registrations_as_at(as_at) AS g USING (nhs_number_pseudonym)
    JOIN death_records_as_at(as_at) AS s USING (org_id_provider, death_record_id)
    LEFT JOIN expected_deaths_as_at(as_at) AS e USING (nhs_number_pseudonym)
    WHERE d.counted
)
SELECT 'category' AS kind, reported_as, attributed_provider, expected_provider, death_month,
       reported_category AS reported, expected_category AS registered, NULL AS days_apart
FROM matched WHERE expected_category IS NOT NULL AND reported_category <> expected_category
UNION ALL
SELECT 'cause', reported_as, attributed_provider, expected_provider, death_month,
       reported_cause_group, registered_cause_group, NULL
FROM matched
WHERE reported_cause_group IS NOT NULL AND registered_cause_group IS NOT NULL
  AND reported_cause_group <> registered_cause_group
UNION ALL
SELECT 'date', reported_as, attributed_provider, expected_provider, death_month,
       strftime(reported_death_date, '%Y-%m-%d'), strftime(registered_death_date, '%Y-%m-%d'),
       abs(date_diff('day', reported_death_date, registered_death_date))
FROM matched WHERE reported_death_date <> registered_death_date;

CREATE OR REPLACE VIEW registration_disagreements AS
SELECT * FROM registration_disagreements_as_at(TIMESTAMP 'infinity')
ORDER BY kind, attributed_provider, death_month, reported_as;

-- linkage_anomalies: what the linkage cannot read cleanly, counted by provider and death month.
CREATE OR REPLACE MACRO linkage_anomalies_as_at(as_at) AS TABLE
WITH
reg AS (SELECT * FROM registrations_as_at(as_at)),
sp AS (SELECT * FROM spells_as_at(as_at) WHERE nhs_number_pseudonym IS NOT NULL),
covered AS (
    SELECT DISTINCT s.org_id_provider, s.reporting_period
    FROM spell_record AS s JOIN feed_load AS l USING (feed_load_id) WHERE l.received_at <= as_at
)
-- More than one spell open at the death: a sender that never closed its spell.
SELECT 'open_spells_at_death' AS kind, c.org_id_provider AS provider,
       strftime(c.death_date, '%Y-%m') AS death_month, count(*) AS cases
FROM linked_candidates_as_at(as_at) AS c
WHERE c.spell_open_at_death AND c.candidate_rank > 1
  AND EXISTS (SELECT 1 FROM linked_candidates_as_at(as_at) AS f
              WHERE f.nhs_number_pseudonym = c.nhs_number_pseudonym AND f.candidate_rank = 1
                AND f.spell_open_at_death)
GROUP BY ALL
UNION ALL
-- The index spell is still open in the spells though the person died in it.
SELECT 'spell_not_closed_by_death', s.org_id_provider, strftime(r.death_date, '%Y-%m'), count(*)
FROM reg AS r JOIN sp AS s USING (nhs_number_pseudonym)
WHERE s.discharge_date IS NULL AND s.admission_date <= r.death_date
GROUP BY ALL
UNION ALL
-- A spell admitted after the registered death.
SELECT 'spell_after_death', s.org_id_provider, strftime(r.death_date, '%Y-%m'), count(*)
FROM reg AS r JOIN sp AS s USING (nhs_number_pseudonym)
WHERE s.admission_date > r.death_date
GROUP BY ALL
UNION ALL
-- A reported inpatient death or death within 30 days with no spell of the person at that
-- provider, in a month the spells cover.
SELECT 'report_without_spell', d.org_id_provider, strftime(d.death_date, '%Y-%m'), count(*)
FROM deaths_as_at(as_at) AS d
JOIN covered AS c ON c.org_id_provider = d.org_id_provider
                 AND c.reporting_period = strftime(d.death_date, '%Y-%m')
WHERE d.death_category IN ('IPD', 'D30') AND d.nhs_number_pseudonym IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM sp AS s WHERE s.nhs_number_pseudonym = d.nhs_number_pseudonym
                  AND s.org_id_provider = d.org_id_provider)
GROUP BY ALL;

CREATE OR REPLACE VIEW linkage_anomalies AS
SELECT * FROM linkage_anomalies_as_at(TIMESTAMP 'infinity')
ORDER BY kind, provider, death_month;

-- reconciliation: per provider and month of death, the deaths the feeds expected of it against
-- what it reported.
CREATE OR REPLACE MACRO reconciliation_as_at(as_at) AS TABLE
WITH
expected AS (
    SELECT expected_provider AS provider, death_month,
           count(*) AS expected,
           count(*) FILTER (WHERE reported) AS reported_of_expected,
           count(*) FILTER (WHERE NOT reported) AS missed,
           count(*) FILTER (WHERE reported_elsewhere) AS reported_elsewhere
    FROM expected_deaths_as_at(as_at)
    WHERE in_reporting_scope
    GROUP BY ALL
),
unregistered AS (
    SELECT attributed_provider AS provider, death_month, count(*) AS reported_not_registered
    FROM deaths_not_yet_registered_as_at(as_at) GROUP BY ALL
),
elsewhere AS (
    SELECT reporting_provider AS provider, death_month, count(*) AS attributed_elsewhere
    FROM deaths_attributed_elsewhere_as_at(as_at) GROUP BY ALL
),
disagreements AS (
    SELECT attributed_provider AS provider, death_month,
           count(*) FILTER (WHERE kind = 'category') AS category_disagreements,
           count(*) FILTER (WHERE kind = 'cause') AS cause_disagreements,
           count(*) FILTER (WHERE kind = 'date') AS date_disagreements
    FROM registration_disagreements_as_at(as_at) GROUP BY ALL
),
keys AS (
    SELECT provider, death_month FROM expected
    UNION SELECT provider, death_month FROM unregistered
    UNION SELECT provider, death_month FROM elsewhere
    UNION SELECT provider, death_month FROM disagreements
)
SELECT
    k.provider,
    k.death_month,
    coalesce(e.expected, 0) AS expected,
    coalesce(e.reported_of_expected, 0) AS reported_of_expected,
    coalesce(e.missed, 0) AS missed,
    coalesce(u.reported_not_registered, 0) AS reported_not_registered,
    coalesce(e.reported_elsewhere, 0) AS reported_elsewhere,
    coalesce(x.attributed_elsewhere, 0) AS attributed_elsewhere,
    coalesce(g.category_disagreements, 0) AS category_disagreements,
    coalesce(g.cause_disagreements, 0) AS cause_disagreements,
    coalesce(g.date_disagreements, 0) AS date_disagreements,
    f.registrations_loaded_to,
    f.spells_loaded_to
FROM keys AS k
CROSS JOIN feeds_loaded_to(as_at) AS f
LEFT JOIN expected AS e USING (provider, death_month)
LEFT JOIN unregistered AS u USING (provider, death_month)
LEFT JOIN elsewhere AS x USING (provider, death_month)
LEFT JOIN disagreements AS g USING (provider, death_month)
WHERE k.provider IS NOT NULL;

CREATE OR REPLACE VIEW reconciliation AS
SELECT * FROM reconciliation_as_at(TIMESTAMP 'infinity')
ORDER BY provider, death_month;
