-- The national feeds (issue 16): what was loaded, and the spells and registrations as they stood.
-- The _as_at macros keep the pseudonym (the linkage joins on it); the views an analyst reads
-- leave it out, as the lists of deaths reported twice do.

-- feed_loads: every feed file loaded, newest last (counts only; never a value of a record).
CREATE OR REPLACE VIEW feed_loads AS
SELECT feed_load_id, feed, feed_version, file_name, file_format, received_at, loaded_at,
       covers_from, covers_to, rows_read, rows_kept, kept_by_spell, kept_by_report_only,
       rows_discarded_unlinked, rows_unlinkable, verdict, warnings
FROM feed_load
ORDER BY feed_load_id;

-- spells_as_at(t): each spell (provider, spell id) as its latest MHSDS month delivered by time t
-- says, as NHS England takes the latest month's version of each spell.
CREATE OR REPLACE MACRO spells_as_at(as_at) AS TABLE
SELECT s.* EXCLUDE (source_row), l.received_at
FROM spell_record AS s
JOIN feed_load AS l USING (feed_load_id)
WHERE l.received_at <= as_at
QUALIFY row_number() OVER (
    PARTITION BY s.org_id_provider, s.hosp_prov_spell_id
    ORDER BY s.reporting_period DESC, l.received_at DESC, s.feed_load_id DESC, s.source_row DESC
) = 1;

CREATE OR REPLACE VIEW spells AS
SELECT * EXCLUDE (nhs_number_pseudonym), nhs_number_pseudonym IS NOT NULL AS linkable
FROM spells_as_at(TIMESTAMP 'infinity');

CREATE OR REPLACE VIEW spell_history AS
SELECT s.* EXCLUDE (nhs_number_pseudonym), l.received_at
FROM spell_record AS s
JOIN feed_load AS l USING (feed_load_id);

-- registrations_as_at(t): each person's kept registration as it stood at time t: the latest
-- registration (a death registered again after an inquest replaces the first), then the latest
-- delivery.
CREATE OR REPLACE MACRO registrations_as_at(as_at) AS TABLE
SELECT r.* EXCLUDE (source_row), l.received_at
FROM registration_record AS r
JOIN feed_load AS l USING (feed_load_id)
WHERE l.received_at <= as_at
QUALIFY row_number() OVER (
    PARTITION BY r.nhs_number_pseudonym
    ORDER BY r.registration_date DESC, l.received_at DESC, r.feed_load_id DESC, r.source_row DESC
) = 1;

CREATE OR REPLACE VIEW registrations AS
SELECT * EXCLUDE (nhs_number_pseudonym)
FROM registrations_as_at(TIMESTAMP 'infinity');

CREATE OR REPLACE VIEW registration_history AS
SELECT r.* EXCLUDE (nhs_number_pseudonym), l.received_at
FROM registration_record AS r
JOIN feed_load AS l USING (feed_load_id);
