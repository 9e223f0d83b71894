-- Rule backtests (plugins/banking/backtest.py): a candidate rule set re-scores the stored
-- transactions of a range; its decisions and its metrics sit next to the live ones, keyed by the
-- backtest id. banking_data is only read.

-- One row per backtest id: what was replayed, with which rules, and how it went. A rerun with
-- the same id replaces the row's figures and all of the id's results and metrics.
CREATE TABLE IF NOT EXISTS banking_backtest_runs (
    backtest_id       text PRIMARY KEY CHECK (backtest_id ~ '^[a-z0-9_-]{1,64}$'),
    status            text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    range_start       timestamptz NOT NULL,
    range_end         timestamptz NOT NULL,
    chunk_minutes     integer NOT NULL CHECK (chunk_minutes > 0),
    candidate_version text NOT NULL,
    candidate_source  text NOT NULL,
    candidate_rules   text NOT NULL,
    live_versions     text[] NOT NULL DEFAULT '{}',
    windows           integer NOT NULL DEFAULT 0,
    skipped_windows   integer NOT NULL DEFAULT 0,
    rows              integer NOT NULL DEFAULT 0,
    changed           integer NOT NULL DEFAULT 0,
    run_id            text,
    error             text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CHECK (range_end > range_start)
);

-- The candidate's verdict on every replayed transaction, with the live decision and the ground
-- truth beside it, so that "what changed" needs no join (and survives banking_data retention).
-- No foreign key: a COPY would pay a trigger per row; the code deletes an id's rows itself.
CREATE TABLE IF NOT EXISTS banking_backtest_results (
    backtest_id       text NOT NULL,
    "timestamp"       timestamptz NOT NULL,
    uniq_id           uuid NOT NULL,
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    amount            numeric(12, 2) NOT NULL,
    fraud_scenario    text,
    live_decision     varchar(100) NOT NULL,
    live_risk_score   smallint NOT NULL,
    decision          varchar(100) NOT NULL CHECK (decision IN ('Approved', 'Review', 'Rejected')),
    risk_score        smallint NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
    rules_triggered   text NOT NULL,
    rules_explanation text NOT NULL,
    rule_hits         jsonb NOT NULL,
    PRIMARY KEY (backtest_id, "timestamp", uniq_id)
);

-- Per rule ('*' = overall) and variant ('live' | 'candidate'): what it flagged and how well.
-- Flagged means "the rule hit" for a rule and "decision = Rejected" overall.
-- precision = true_positives / flagged, recall = true_positives / fraud_total (NULL when 0/0).
CREATE TABLE IF NOT EXISTS banking_backtest_metrics (
    backtest_id     text NOT NULL REFERENCES banking_backtest_runs (backtest_id) ON DELETE CASCADE,
    variant         text NOT NULL CHECK (variant IN ('live', 'candidate')),
    rule_id         text NOT NULL,
    transactions    integer NOT NULL,
    hits            integer NOT NULL,
    review          integer NOT NULL,
    rejected        integer NOT NULL,
    rejected_amount numeric(16, 2) NOT NULL,
    flagged         integer NOT NULL,
    true_positives  integer NOT NULL,
    fraud_total     integer NOT NULL,
    "precision"     double precision,
    recall          double precision,
    PRIMARY KEY (backtest_id, variant, rule_id)
);

GRANT SELECT ON banking_backtest_runs, banking_backtest_results, banking_backtest_metrics TO banking_reader;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON banking_backtest_runs, banking_backtest_results, banking_backtest_metrics TO banking_writer;
