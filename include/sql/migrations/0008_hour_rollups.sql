-- Hourly rollups, so that panels over days or weeks sum a few rows per hour instead of a few per
-- minute. Keyed by the UTC hour only (not by the window): the load transaction recomputes every
-- hour its window touches from the per-minute rollups (load/refresh_hour_rollups), under per-hour
-- advisory locks taken in ascending order (load/lock_hours), so an hour always holds exactly the
-- sum of its minutes, whichever windows and reruns wrote them.
CREATE TABLE IF NOT EXISTS banking_hour_stats (
    hour           timestamptz NOT NULL,
    trans_type     varchar(50) NOT NULL,
    decision       varchar(100) NOT NULL,
    injected_fraud boolean NOT NULL,
    txns           integer NOT NULL CHECK (txns > 0),
    amount         numeric(16, 2) NOT NULL,
    PRIMARY KEY (hour, trans_type, decision, injected_fraud),
    CHECK (hour = date_trunc('hour', hour, 'UTC'))
);

CREATE TABLE IF NOT EXISTS banking_hour_rule_hits (
    hour           timestamptz NOT NULL,
    rule_id        text NOT NULL,
    decision       varchar(100) NOT NULL,
    injected_fraud boolean NOT NULL,
    hits           integer NOT NULL CHECK (hits > 0),
    amount         numeric(16, 2) NOT NULL,
    PRIMARY KEY (hour, rule_id, decision, injected_fraud),
    CHECK (hour = date_trunc('hour', hour, 'UTC'))
);

-- Transactions of blacklisted accounts per hour and holder name (what the "Blacklisted Account
-- Transactions" panel groups by), recomputed from banking_data's rows through its partial index.
CREATE TABLE IF NOT EXISTS banking_hour_blacklisted (
    hour                timestamptz NOT NULL,
    account_holder_name varchar(100) NOT NULL,
    txns                integer NOT NULL CHECK (txns > 0),
    PRIMARY KEY (hour, account_holder_name),
    CHECK (hour = date_trunc('hour', hour, 'UTC'))
);

-- The whole UTC hours [first, end) inside [p_from, p_to] that a query may read from the hourly
-- rollups: only when its time buckets are whole hours (p_step_ms a multiple of an hour; 0 = no
-- buckets). 'infinity' for both when there are none, so that the minutes before `first` are all
-- the range's minutes. A range [p_from, p_to] includes both ends, like Grafana's $__timeFilter.
CREATE OR REPLACE FUNCTION banking_whole_hours_first(p_from timestamptz, p_to timestamptz, p_step_ms bigint)
RETURNS timestamptz
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_step_ms % 3600000 = 0
             AND date_trunc('hour', p_from - interval '1 microsecond', 'UTC') + interval '1 hour'
                 < date_trunc('hour', p_to, 'UTC')
        THEN date_trunc('hour', p_from - interval '1 microsecond', 'UTC') + interval '1 hour'
        ELSE 'infinity'::timestamptz
    END
$$;

CREATE OR REPLACE FUNCTION banking_whole_hours_end(p_from timestamptz, p_to timestamptz, p_step_ms bigint)
RETURNS timestamptz
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_step_ms % 3600000 = 0
             AND date_trunc('hour', p_from - interval '1 microsecond', 'UTC') + interval '1 hour'
                 < date_trunc('hour', p_to, 'UTC')
        THEN date_trunc('hour', p_to, 'UTC')
        ELSE 'infinity'::timestamptz
    END
$$;

-- banking_minute_stats' minutes in [p_from, p_to] (the window columns summed away), with the whole
-- hours read from banking_hour_stats: one row per hour there, per minute at the edges.
-- `period_start` is the hour or the minute. p_step_ms is the query's time bucket ($__interval_ms):
-- hours are used only when the buckets are whole hours, so that no hour is split between two.
-- Plain SQL (not SECURITY DEFINER): PostgreSQL inlines it into the panel's query, and it reads
-- with the caller's rights.
CREATE OR REPLACE FUNCTION banking_stats_between(p_from timestamptz, p_to timestamptz, p_step_ms bigint DEFAULT 0)
RETURNS TABLE (
    period_start timestamptz, trans_type varchar, decision varchar, injected_fraud boolean, txns integer,
    amount numeric
)
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT h.hour, h.trans_type, h.decision, h.injected_fraud, h.txns, h.amount
    FROM banking_hour_stats h
    WHERE h.hour >= banking_whole_hours_first(p_from, p_to, p_step_ms)
      AND h.hour < banking_whole_hours_end(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT m.minute, m.trans_type, m.decision, m.injected_fraud, m.txns, m.amount
    FROM banking_minute_stats m
    WHERE m.minute >= p_from AND m.minute <= p_to
      AND m.minute < banking_whole_hours_first(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT m.minute, m.trans_type, m.decision, m.injected_fraud, m.txns, m.amount
    FROM banking_minute_stats m
    WHERE m.minute >= banking_whole_hours_end(p_from, p_to, p_step_ms) AND m.minute <= p_to
$$;

-- The same for banking_minute_rule_hits.
CREATE OR REPLACE FUNCTION banking_rule_hits_between(p_from timestamptz, p_to timestamptz, p_step_ms bigint DEFAULT 0)
RETURNS TABLE (
    period_start timestamptz, rule_id text, decision varchar, injected_fraud boolean, hits integer,
    amount numeric
)
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT h.hour, h.rule_id, h.decision, h.injected_fraud, h.hits, h.amount
    FROM banking_hour_rule_hits h
    WHERE h.hour >= banking_whole_hours_first(p_from, p_to, p_step_ms)
      AND h.hour < banking_whole_hours_end(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT m.minute, m.rule_id, m.decision, m.injected_fraud, m.hits, m.amount
    FROM banking_minute_rule_hits m
    WHERE m.minute >= p_from AND m.minute <= p_to
      AND m.minute < banking_whole_hours_first(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT m.minute, m.rule_id, m.decision, m.injected_fraud, m.hits, m.amount
    FROM banking_minute_rule_hits m
    WHERE m.minute >= banking_whole_hours_end(p_from, p_to, p_step_ms) AND m.minute <= p_to
$$;

-- Blacklisted accounts' transactions with "timestamp" in [p_from, p_to], per holder name: whole
-- hours from banking_hour_blacklisted, the rows of the partial hours at the edges from banking_data
-- (through its partial index on account_blacklisted), one row each with txns = 1.
CREATE OR REPLACE FUNCTION banking_blacklisted_between(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (period_start timestamptz, account_holder_name varchar, txns integer)
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT h.hour, h.account_holder_name, h.txns
    FROM banking_hour_blacklisted h
    WHERE h.hour >= banking_whole_hours_first(p_from, p_to, 0)
      AND h.hour < banking_whole_hours_end(p_from, p_to, 0)
    UNION ALL
    SELECT d."timestamp", d.account_holder_name, 1
    FROM banking_data d
    WHERE d.account_blacklisted AND d."timestamp" >= p_from AND d."timestamp" <= p_to
      AND d."timestamp" < banking_whole_hours_first(p_from, p_to, 0)
    UNION ALL
    SELECT d."timestamp", d.account_holder_name, 1
    FROM banking_data d
    WHERE d.account_blacklisted AND d."timestamp" >= banking_whole_hours_end(p_from, p_to, 0)
      AND d."timestamp" <= p_to
$$;

GRANT SELECT ON banking_hour_stats, banking_hour_rule_hits, banking_hour_blacklisted TO banking_reader;
GRANT SELECT, INSERT, DELETE ON banking_hour_stats, banking_hour_rule_hits, banking_hour_blacklisted
    TO banking_writer;
REVOKE ALL ON FUNCTION banking_whole_hours_first(timestamptz, timestamptz, bigint),
    banking_whole_hours_end(timestamptz, timestamptz, bigint),
    banking_stats_between(timestamptz, timestamptz, bigint),
    banking_rule_hits_between(timestamptz, timestamptz, bigint),
    banking_blacklisted_between(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION banking_whole_hours_first(timestamptz, timestamptz, bigint),
    banking_whole_hours_end(timestamptz, timestamptz, bigint),
    banking_stats_between(timestamptz, timestamptz, bigint),
    banking_rule_hits_between(timestamptz, timestamptz, bigint),
    banking_blacklisted_between(timestamptz, timestamptz) TO banking_reader, banking_writer;

-- Fill the hours of what is already loaded (a one-off; later loads keep them up to date). SHARE
-- locks make loads wait for this transaction, so that no window is loaded while it reads.
LOCK TABLE banking_minute_stats, banking_minute_rule_hits, banking_data IN SHARE MODE;
DELETE FROM banking_hour_stats;
INSERT INTO banking_hour_stats (hour, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('hour', minute, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM banking_minute_stats
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_hour_rule_hits;
INSERT INTO banking_hour_rule_hits (hour, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('hour', minute, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM banking_minute_rule_hits
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_hour_blacklisted;
INSERT INTO banking_hour_blacklisted (hour, account_holder_name, txns)
SELECT date_trunc('hour', "timestamp", 'UTC'), account_holder_name, count(*)
FROM banking_data
WHERE account_blacklisted
GROUP BY 1, 2;
ANALYZE banking_hour_stats, banking_hour_rule_hits, banking_hour_blacklisted;
