-- review_records_as_at(t): each death's reviews as they stood at time t (spec 2.0.0's review
-- table; a 1.x death's single review is its review 'legacy'). Every action received by then
-- counts, in order of receipt, by provider, death record and review: N adds a review, U replaces
-- it, D withdraws it. Updating the death does not touch its reviews.
{% from "_records_as_at.jinja" import records_as_at %}
{{ records_as_at("review_records_as_at", "review_record", "r", ["org_id_provider", "death_record_id", "review_id"]) }}

-- review_summary_as_at(t): per death (provider and death record), what its current reviews add
-- up to, as the Learning from Deaths dashboard reads them: a case record review (CRR: SJR, the
-- RCPsych tool, LeDeR, other) judges the care; a PSIRF learning response (a PSII is "investigated")
-- does not judge avoidability, so problems in care are read from completed CRRs only.
CREATE OR REPLACE MACRO review_summary_as_at(as_at) AS TABLE
SELECT
    org_id_provider,
    death_record_id,
    count(*) AS reviews,
    min(review_completed_date) AS first_review_completed_date,
    min(review_completed_date) FILTER (WHERE review_kind = 'CRR') AS crr_completed_date,
    bool_or(review_method = '04') AS investigated,
    bool_or(review_kind = 'PSIRF') AS psirf_response,
    CASE
        WHEN bool_or(review_kind = 'CRR' AND review_completed_date IS NOT NULL
                     AND problems_in_care_judgement = 'Y') THEN 'Y'
        WHEN bool_or(review_kind = 'CRR' AND review_completed_date IS NOT NULL
                     AND problems_in_care_judgement = 'N') THEN 'N'
    END AS problems_in_care_crr,
    -- The family's part in any review: involved, over declined, over not invited.
    CASE
        WHEN bool_or(family_involvement = 'Y') THEN 'Y'
        WHEN bool_or(family_involvement = 'D') THEN 'D'
        WHEN bool_or(family_involvement = 'N') THEN 'N'
        WHEN bool_or(family_involvement = 'X') THEN 'X'
    END AS family_involved
FROM review_records_as_at(as_at)
WHERE record_action <> 'D'
GROUP BY org_id_provider, death_record_id;

CREATE OR REPLACE VIEW reviews AS
SELECT * EXCLUDE (received_at)
FROM review_records_as_at(TIMESTAMP 'infinity')
WHERE record_action <> 'D';

-- Every review record ever submitted, in every submission, superseded or not.
CREATE OR REPLACE VIEW review_history AS
SELECT r.*, s.received_at, s.status AS submission_status
FROM review_record AS r
JOIN submissions AS s USING (submission_id);
