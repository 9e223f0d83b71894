-- Scored transactions, partitioned by day on "timestamp" so that retention is a partition drop.
-- The original project's columns keep their names and values (card_presense, sic); the rest is new.
-- Population references (account_id, card_ref, merchant_id) are not foreign keys: a COPY of a
-- window would pay a trigger per row for them, and the loader already checks the population
-- version of every batch against banking_population.
CREATE TABLE IF NOT EXISTS banking_data (
    "timestamp"         timestamptz NOT NULL,
    uniq_id             uuid NOT NULL,
    trans_type          varchar(50) NOT NULL
        CHECK (trans_type IN ('Real_time_transaction', 'settlements', 'dispute')),
    amount              numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency            char(3) NOT NULL,
    amount_crr          numeric(14, 2) NOT NULL CHECK (amount_crr > 0),
    account_holder_name varchar(100) NOT NULL,
    card_presense       varchar(50) NOT NULL CHECK (card_presense IN ('Present', 'Not Present')),
    merchant_category   varchar(50) NOT NULL,
    card_type           varchar(50) NOT NULL,
    card_id             varchar(20) NOT NULL,
    account_id          uuid NOT NULL,
    account_blacklisted boolean NOT NULL,
    rules_triggered     varchar(200) NOT NULL,
    rules_explanation   text NOT NULL,
    decision            varchar(100) NOT NULL CHECK (decision IN ('Approved', 'Review', 'Rejected')),
    risk_score          smallint NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
    rule_hits           jsonb NOT NULL,
    rule_set_version    text NOT NULL,
    window_start        timestamptz NOT NULL,
    window_end          timestamptz NOT NULL,
    fraud_scenario      text,
    channel             varchar(20) NOT NULL,
    country             char(2) NOT NULL,
    city                varchar(80) NOT NULL,
    home_country        char(2) NOT NULL,
    card_ref            uuid NOT NULL,
    merchant_id         uuid NOT NULL,
    merchant_name       varchar(100) NOT NULL,
    PRIMARY KEY ("timestamp", uniq_id),
    CHECK ("timestamp" >= window_start AND "timestamp" < window_end)
) PARTITION BY RANGE ("timestamp");

-- Account history for the rules (index-only scans over one account's recent rows).
CREATE INDEX IF NOT EXISTS banking_data_account_ts_idx
    ON banking_data (account_id, "timestamp") INCLUDE (uniq_id, card_ref, amount, country);
-- Replacing one window on a rerun.
CREATE INDEX IF NOT EXISTS banking_data_window_idx ON banking_data (window_start, window_end);

-- One row per loaded window: the audit trail that reconciles with banking_data.
CREATE TABLE IF NOT EXISTS banking_batches (
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    rows               integer NOT NULL,
    approved           integer NOT NULL,
    review             integer NOT NULL,
    rejected           integer NOT NULL,
    injected_fraud     integer NOT NULL,
    amount             numeric(16, 2) NOT NULL,
    rule_set_version   text NOT NULL,
    settings_digest    text NOT NULL,
    population_version text NOT NULL,
    run_id             text,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL,
    loads              integer NOT NULL DEFAULT 1,
    PRIMARY KEY (window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX IF NOT EXISTS banking_batches_finished_idx ON banking_batches (finished_at);

-- Scored windows waiting for the load task: the hand-over between tasks that may run on
-- different workers. The payload is the window's rows in COPY text format, zlib-compressed.
CREATE TABLE IF NOT EXISTS banking_staging (
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    rows         integer NOT NULL,
    summary      jsonb NOT NULL,
    payload      bytea NOT NULL,
    staged_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (window_start, window_end)
);
