-- The history rules' state as tiles (store/account_tiles.py writes them, rules/history_totals.py
-- reads them), in place of 0013's per-minute running totals: per account, country and UTC hour
-- (banking_account_hours) and UTC day (banking_account_days) in which the account had rows at or
-- after the state's horizon, their count and amount (cents). A window reads, per account, the days
-- inside its look-back, the hours at its two ends and the raw rows at the edges, from index ranges
-- (the counts are in the index: INCLUDE); a load adds its new rows to their tiles and takes away
-- the rows it replaces, so a tile depends on its own hour or day only.
CREATE TABLE IF NOT EXISTS banking_account_hours (
    account_id uuid NOT NULL,
    hour       timestamptz NOT NULL,
    country    char(2) NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL,
    PRIMARY KEY (account_id, hour, country) INCLUDE (txns, cents)
) WITH (
    -- Reads are index-only where the visibility map says so: vacuum often (each vacuum visits only
    -- the pages written since the last one).
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01
);
CREATE TABLE IF NOT EXISTS banking_account_days (
    account_id uuid NOT NULL,
    day        timestamptz NOT NULL,
    country    char(2) NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL,
    PRIMARY KEY (account_id, day, country) INCLUDE (txns, cents)
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);

-- What is already loaded, from the horizon on.
INSERT INTO banking_account_hours (account_id, hour, country, txns, cents)
SELECT account_id, date_trunc('hour', "timestamp", 'UTC'), country, count(*), sum((amount * 100)::bigint)
FROM banking_data
WHERE "timestamp" >= (SELECT horizon FROM banking_state_horizon)
GROUP BY 1, 2, 3
ON CONFLICT DO NOTHING;
INSERT INTO banking_account_days (account_id, day, country, txns, cents)
SELECT account_id, date_trunc('day', hour, 'UTC'), country, sum(txns), sum(cents)
FROM banking_account_hours
GROUP BY 1, 2, 3
ON CONFLICT DO NOTHING;

DROP TABLE IF EXISTS banking_account_totals, banking_account_countries;

GRANT SELECT ON banking_account_hours, banking_account_days TO banking_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON banking_account_hours, banking_account_days TO banking_writer;
