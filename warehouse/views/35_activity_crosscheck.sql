-- activity_crosscheck: the activity each provider submitted against the same measures counted
-- from the MHSDS spells feed (issue 16), one row per provider and reporting period that both the
-- spells loaded and a current submission cover. A count differs when the two are not equal;
-- occupied bed days differ when they are more than {{ bed_days_tolerance_pct }}% apart (a
-- provider's own count and MHSDS ward stays treat leave and moves between wards differently).
-- The submitted activity stays the benchmarks' denominator: this is a data quality finding.
CREATE OR REPLACE MACRO activity_crosscheck_as_at(as_at) AS TABLE
WITH
covered AS (
    SELECT DISTINCT s.org_id_provider AS provider, s.reporting_period
    FROM spell_record AS s JOIN feed_load AS l USING (feed_load_id)
    WHERE l.received_at <= as_at
),
-- Each spell once per month it was open in; an open spell up to the last month it was delivered
-- for (a spell the deliveries stop mentioning is not assumed to stay open).
spell_months AS (
    SELECT *, CAST(month AS DATE) AS month_start, CAST(last_day(month) AS DATE) AS month_end
    FROM (
        SELECT s.org_id_provider AS provider, s.admission_date, s.discharge_date,
               s.discharge_method,
               unnest(range(
                   date_trunc('month', s.admission_date),
                   coalesce(s.discharge_date,
                            last_day(CAST(strptime(s.reporting_period || '-01', '%Y-%m-%d') AS DATE)))
                       + INTERVAL 1 DAY,
                   INTERVAL 1 MONTH)) AS month
        FROM spells_as_at(as_at) AS s
    )
),
from_spells AS (
    SELECT
        provider,
        strftime(month_start, '%Y-%m') AS reporting_period,
        count(*) FILTER (WHERE admission_date BETWEEN month_start AND month_end) AS admissions,
        count(*) FILTER (WHERE discharge_method <> '4'
                         AND discharge_date BETWEEN month_start AND month_end) AS discharges_live,
        count(*) FILTER (WHERE discharge_method = '4'
                         AND discharge_date BETWEEN month_start AND month_end) AS deaths_in_spell,
        sum(greatest(0, date_diff('day', greatest(admission_date, month_start),
                                  least(coalesce(discharge_date, month_end + 1), month_end + 1))))
            AS occupied_bed_days
    FROM spell_months
    GROUP BY ALL
),
submitted AS (
    SELECT org_id_provider AS provider, reporting_period,
           sum(admissions) AS admissions, sum(discharges_live) AS discharges_live,
           sum(deaths_in_spell) AS deaths_in_spell, sum(occupied_bed_days) AS occupied_bed_days
    FROM activity_as_at(as_at)
    GROUP BY ALL
)
SELECT
    c.provider,
    c.reporting_period,
{% for m in ["admissions", "discharges_live", "deaths_in_spell", "occupied_bed_days"] %}
    coalesce(f.{{ m }}, 0) AS {{ m }}_spells,
    u.{{ m }} AS {{ m }}_submitted,
    u.{{ m }} - coalesce(f.{{ m }}, 0) AS {{ m }}_difference,
{% if m == "occupied_bed_days" %}
    abs(u.{{ m }} - coalesce(f.{{ m }}, 0))
        > {{ bed_days_tolerance }} * greatest(u.{{ m }}, coalesce(f.{{ m }}, 0)) AS {{ m }}_differs,
{% else %}
    u.{{ m }} <> coalesce(f.{{ m }}, 0) AS {{ m }}_differs,
{% endif %}
{% endfor %}
FROM covered AS c
JOIN submitted AS u USING (provider, reporting_period)
LEFT JOIN from_spells AS f USING (provider, reporting_period);

CREATE OR REPLACE VIEW activity_crosscheck AS
SELECT * FROM activity_crosscheck_as_at(TIMESTAMP 'infinity')
ORDER BY provider, reporting_period;
