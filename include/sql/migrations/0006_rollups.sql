-- Per-minute rollups for dashboards, kept up to date in each window's load transaction, so that
-- panels never scan raw rows. Keyed by the window too, so that replacing a window replaces its share.
CREATE TABLE IF NOT EXISTS banking_minute_stats (
    minute         timestamptz NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    trans_type     varchar(50) NOT NULL,
    decision       varchar(100) NOT NULL,
    injected_fraud boolean NOT NULL,
    txns           integer NOT NULL,
    amount         numeric(16, 2) NOT NULL,
    PRIMARY KEY (minute, window_start, window_end, trans_type, decision, injected_fraud)
);
CREATE INDEX IF NOT EXISTS banking_minute_stats_window_idx ON banking_minute_stats (window_start, window_end);

-- One row per (minute, rule, decision, ground truth): hits, for rule trends and precision/recall.
CREATE TABLE IF NOT EXISTS banking_minute_rule_hits (
    minute         timestamptz NOT NULL,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    rule_id        text NOT NULL,
    decision       varchar(100) NOT NULL,
    injected_fraud boolean NOT NULL,
    hits           integer NOT NULL,
    amount         numeric(16, 2) NOT NULL,
    PRIMARY KEY (minute, window_start, window_end, rule_id, decision, injected_fraud)
);
CREATE INDEX IF NOT EXISTS banking_minute_rule_hits_window_idx ON banking_minute_rule_hits (window_start, window_end);

-- Dashboard tables that list raw rows read only the few that match.
CREATE INDEX IF NOT EXISTS banking_data_rejected_ts_idx ON banking_data ("timestamp") WHERE decision = 'Rejected';
CREATE INDEX IF NOT EXISTS banking_data_blacklisted_ts_idx ON banking_data ("timestamp") WHERE account_blacklisted;

GRANT SELECT ON banking_minute_stats, banking_minute_rule_hits TO banking_reader;
GRANT SELECT, INSERT, DELETE ON banking_minute_stats, banking_minute_rule_hits TO banking_writer;
