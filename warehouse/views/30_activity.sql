-- activity_as_at(t): the activity of the current submission for each provider and period at t.
CREATE OR REPLACE MACRO activity_as_at(as_at) AS TABLE
SELECT a.*, s.received_at
FROM activity_record AS a
JOIN submissions_as_at(as_at) AS s USING (submission_id)
WHERE s.status = 'current';

CREATE OR REPLACE VIEW activity AS
SELECT * FROM activity_as_at(TIMESTAMP 'infinity');
