-- Per-(account, country) running totals for the history rules (store/account_totals.py writes them, rules/history_totals.py reads them), kept in
-- each load's transaction (state/*.sql) so that a window reads a few state rows per account instead
-- of the account's raw week.
--
-- banking_account_totals: for each minute in which the account had rows in that country, the
-- account's count and amount (cents) in that country over every row with timestamp < minute + 1
-- minute and >= the horizon (cumulative), plus a per-pair constant: retention keeps each pair's
-- latest row before its cutoff, whose value is that constant. So the rows of a pair in [x, y), for
-- minute-aligned x <= y at or after the horizon, are (latest total before y) - (latest before x).
CREATE TABLE IF NOT EXISTS banking_account_totals (
    account_id uuid NOT NULL,
    country    char(2) NOT NULL,
    minute     timestamptz NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL,
    PRIMARY KEY (account_id, country, minute)
);

-- The (account, country) pairs ever seen: which pairs a read probes.
CREATE TABLE IF NOT EXISTS banking_account_countries (
    account_id uuid NOT NULL,
    country    char(2) NOT NULL,
    PRIMARY KEY (account_id, country)
);

-- The state counts the rows at or after the horizon only: retention moves it to its cutoff, a load
-- of older time leaves the state alone, and no read reaches before it.
CREATE TABLE IF NOT EXISTS banking_state_horizon (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    horizon  timestamptz NOT NULL
);
INSERT INTO banking_state_horizon (horizon) VALUES ('-infinity') ON CONFLICT DO NOTHING;

-- What is already loaded.
INSERT INTO banking_account_totals (account_id, country, minute, txns, cents)
SELECT account_id, country, minute,
       sum(txns) OVER (PARTITION BY account_id, country ORDER BY minute),
       sum(cents) OVER (PARTITION BY account_id, country ORDER BY minute)
FROM (
    SELECT account_id, country, date_trunc('minute', "timestamp", 'UTC') AS minute,
           count(*) AS txns, sum((amount * 100)::bigint) AS cents
    FROM banking_data
    GROUP BY 1, 2, 3
) AS per_minute
ON CONFLICT DO NOTHING;
INSERT INTO banking_account_countries (account_id, country)
SELECT DISTINCT account_id, country FROM banking_account_totals
ON CONFLICT DO NOTHING;

GRANT SELECT ON banking_account_totals, banking_account_countries, banking_state_horizon TO banking_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON banking_account_totals, banking_account_countries, banking_state_horizon
    TO banking_writer;
