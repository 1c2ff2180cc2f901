-- 0007: every benchmark run and the figures it published, so outliers and trends are SQL.
--
-- `mhdeaths benchmark` (and `run`) records each run and its released rows here, in one
-- transaction after the outputs are written: the same cells the CSV carries, numbers as numbers
-- and a withheld cell as NULL with `withheld` set, so a query can never recover more than the
-- publication showed. Runs are only ever added.

CREATE TABLE benchmark_run (
    run_id               INTEGER PRIMARY KEY,
    run_at               TIMESTAMP NOT NULL,  -- UTC, when the run finished
    period               VARCHAR NOT NULL,    -- the month the windows end (CCYY-MM)
    as_at                TIMESTAMP,           -- the warehouse as it stood then; NULL: as it was at run_at
    disclosure_rule      VARCHAR NOT NULL,    -- the rule the counts were released under
    definitions_version  VARCHAR NOT NULL,    -- the spec version whose definitions counted the deaths
    tool_version         VARCHAR NOT NULL,
    indicators           INTEGER NOT NULL,    -- indicator variants computed
    providers            INTEGER NOT NULL
);

CREATE TABLE benchmark_result (
    run_id       INTEGER NOT NULL,
    indicator    VARCHAR NOT NULL,  -- indicator.variant, as in benchmarks.csv
    "window"     VARCHAR NOT NULL,  -- the months pooled, "CCYY-MM to CCYY-MM"
    provider     VARCHAR NOT NULL,  -- an ODS code, or ENGLAND for the national row
    observed     DOUBLE,            -- as released (rounded under some rules); NULL when withheld
    denominator  DOUBLE,
    value        DOUBLE,
    lower        DOUBLE,
    upper        DOUBLE,
    q1           DOUBLE,
    q3           DOUBLE,
    expected     DOUBLE,
    ratio        DOUBLE,
    ratio_lower  DOUBLE,
    ratio_upper  DOUBLE,
    z            DOUBLE,
    band_95      VARCHAR,           -- "higher than expected", "as expected" or "lower than expected" (95% adjusted limits)
    band_998     VARCHAR,           -- the same against the 99.8% adjusted limits
    withheld     BOOLEAN NOT NULL,  -- some cell of the row was withheld under the rule
    caution      BOOLEAN NOT NULL,
    note         VARCHAR,
    PRIMARY KEY (run_id, indicator, provider)
);
