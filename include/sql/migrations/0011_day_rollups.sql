-- Daily rollups, so that panels that total a range of weeks sum a few rows per day instead of a
-- few per hour. Keyed by the UTC day only, with the columns of the hourly rollups (0008): the load
-- transaction recomputes every day its window touches from the hourly rows of that day
-- (load/refresh_day_rollups), right after it recomputed the hours, under per-day advisory locks
-- taken in ascending order after the hour locks (load/lock_days), so a day always holds exactly the
-- sum of its hours.
CREATE TABLE IF NOT EXISTS banking_day_stats (
    day            timestamptz NOT NULL,
    trans_type     varchar(50) NOT NULL,
    decision       varchar(100) NOT NULL,
    injected_fraud boolean NOT NULL,
    txns           integer NOT NULL CHECK (txns > 0),
    amount         numeric(16, 2) NOT NULL,
    PRIMARY KEY (day, trans_type, decision, injected_fraud),
    CHECK (day = date_trunc('day', day, 'UTC'))
);

CREATE TABLE IF NOT EXISTS banking_day_rule_hits (
    day            timestamptz NOT NULL,
    rule_id        text NOT NULL,
    decision       varchar(100) NOT NULL,
    injected_fraud boolean NOT NULL,
    hits           integer NOT NULL CHECK (hits > 0),
    amount         numeric(16, 2) NOT NULL,
    PRIMARY KEY (day, rule_id, decision, injected_fraud),
    CHECK (day = date_trunc('day', day, 'UTC'))
);

CREATE TABLE IF NOT EXISTS banking_day_blacklisted (
    day                 timestamptz NOT NULL,
    account_holder_name varchar(100) NOT NULL,
    txns                integer NOT NULL CHECK (txns > 0),
    PRIMARY KEY (day, account_holder_name),
    CHECK (day = date_trunc('day', day, 'UTC'))
);

-- The whole UTC days [first, end) inside [p_from, p_to] that a query may read from the daily
-- rollups: only when its time buckets are whole days (p_step_ms a multiple of a day; 0 = no
-- buckets), 'infinity' for both otherwise, like banking_whole_hours_first/_end. '24 hours', not
-- '1 day': timestamptz + '1 day' adds a calendar day of the session's TimeZone, 23 or 25 hours
-- across a daylight saving change.
CREATE OR REPLACE FUNCTION banking_whole_days_first(p_from timestamptz, p_to timestamptz, p_step_ms bigint)
RETURNS timestamptz
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_step_ms % 86400000 = 0
             AND date_trunc('day', p_from - interval '1 microsecond', 'UTC') + interval '24 hours'
                 < date_trunc('day', p_to, 'UTC')
        THEN date_trunc('day', p_from - interval '1 microsecond', 'UTC') + interval '24 hours'
        ELSE 'infinity'::timestamptz
    END
$$;

CREATE OR REPLACE FUNCTION banking_whole_days_end(p_from timestamptz, p_to timestamptz, p_step_ms bigint)
RETURNS timestamptz
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_step_ms % 86400000 = 0
             AND date_trunc('day', p_from - interval '1 microsecond', 'UTC') + interval '24 hours'
                 < date_trunc('day', p_to, 'UTC')
        THEN date_trunc('day', p_to, 'UTC')
        ELSE 'infinity'::timestamptz
    END
$$;

-- The range [p_from, p_to] from three levels: the whole days from banking_day_stats, the whole
-- hours before and after them from banking_hour_stats, the minutes before and after those from
-- banking_minute_stats. Without whole days (days' first = end = 'infinity') the hours are those of
-- 0008: [hours' first, hours' end); with them, [hours' first, days' first) and [days' end, hours'
-- end) (a multiple of a day is a multiple of an hour, so the whole hours then surround the days).
-- `period_start` is the day, the hour or the minute. Same signature, columns and rights as in
-- 0008: plain SQL, inlined into the panel's query.
CREATE OR REPLACE FUNCTION banking_stats_between(p_from timestamptz, p_to timestamptz, p_step_ms bigint DEFAULT 0)
RETURNS TABLE (
    period_start timestamptz, trans_type varchar, decision varchar, injected_fraud boolean, txns integer,
    amount numeric
)
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT d.day, d.trans_type, d.decision, d.injected_fraud, d.txns, d.amount
    FROM banking_day_stats d
    WHERE d.day >= banking_whole_days_first(p_from, p_to, p_step_ms)
      AND d.day < banking_whole_days_end(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT h.hour, h.trans_type, h.decision, h.injected_fraud, h.txns, h.amount
    FROM banking_hour_stats h
    WHERE h.hour >= banking_whole_hours_first(p_from, p_to, p_step_ms)
      AND h.hour < banking_whole_hours_end(p_from, p_to, p_step_ms)
      AND h.hour < banking_whole_days_first(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT h.hour, h.trans_type, h.decision, h.injected_fraud, h.txns, h.amount
    FROM banking_hour_stats h
    WHERE h.hour >= banking_whole_days_end(p_from, p_to, p_step_ms)
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

-- The same for the rule hits.
CREATE OR REPLACE FUNCTION banking_rule_hits_between(p_from timestamptz, p_to timestamptz, p_step_ms bigint DEFAULT 0)
RETURNS TABLE (
    period_start timestamptz, rule_id text, decision varchar, injected_fraud boolean, hits integer,
    amount numeric
)
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT d.day, d.rule_id, d.decision, d.injected_fraud, d.hits, d.amount
    FROM banking_day_rule_hits d
    WHERE d.day >= banking_whole_days_first(p_from, p_to, p_step_ms)
      AND d.day < banking_whole_days_end(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT h.hour, h.rule_id, h.decision, h.injected_fraud, h.hits, h.amount
    FROM banking_hour_rule_hits h
    WHERE h.hour >= banking_whole_hours_first(p_from, p_to, p_step_ms)
      AND h.hour < banking_whole_hours_end(p_from, p_to, p_step_ms)
      AND h.hour < banking_whole_days_first(p_from, p_to, p_step_ms)
    UNION ALL
    SELECT h.hour, h.rule_id, h.decision, h.injected_fraud, h.hits, h.amount
    FROM banking_hour_rule_hits h
    WHERE h.hour >= banking_whole_days_end(p_from, p_to, p_step_ms)
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

-- The same for the blacklisted accounts' transactions (no buckets: whole days whenever there are
-- some), with banking_data's rows (txns = 1 each) outside the whole hours.
CREATE OR REPLACE FUNCTION banking_blacklisted_between(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (period_start timestamptz, account_holder_name varchar, txns integer)
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT d.day, d.account_holder_name, d.txns
    FROM banking_day_blacklisted d
    WHERE d.day >= banking_whole_days_first(p_from, p_to, 0)
      AND d.day < banking_whole_days_end(p_from, p_to, 0)
    UNION ALL
    SELECT h.hour, h.account_holder_name, h.txns
    FROM banking_hour_blacklisted h
    WHERE h.hour >= banking_whole_hours_first(p_from, p_to, 0)
      AND h.hour < banking_whole_hours_end(p_from, p_to, 0)
      AND h.hour < banking_whole_days_first(p_from, p_to, 0)
    UNION ALL
    SELECT h.hour, h.account_holder_name, h.txns
    FROM banking_hour_blacklisted h
    WHERE h.hour >= banking_whole_days_end(p_from, p_to, 0)
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

GRANT SELECT ON banking_day_stats, banking_day_rule_hits, banking_day_blacklisted TO banking_reader;
GRANT SELECT, INSERT, DELETE ON banking_day_stats, banking_day_rule_hits, banking_day_blacklisted
    TO banking_writer;
-- CREATE OR REPLACE keeps the rights 0008 gave the three *_between functions; repeated here anyway.
REVOKE ALL ON FUNCTION banking_whole_days_first(timestamptz, timestamptz, bigint),
    banking_whole_days_end(timestamptz, timestamptz, bigint),
    banking_stats_between(timestamptz, timestamptz, bigint),
    banking_rule_hits_between(timestamptz, timestamptz, bigint),
    banking_blacklisted_between(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION banking_whole_days_first(timestamptz, timestamptz, bigint),
    banking_whole_days_end(timestamptz, timestamptz, bigint),
    banking_stats_between(timestamptz, timestamptz, bigint),
    banking_rule_hits_between(timestamptz, timestamptz, bigint),
    banking_blacklisted_between(timestamptz, timestamptz) TO banking_reader, banking_writer;

-- Fill the days of what is already loaded (a one-off; later loads keep them up to date) from the
-- hourly rollups. SHARE locks make loads wait for this transaction before they write an hour, so
-- that no hour changes while it reads them.
LOCK TABLE banking_hour_stats, banking_hour_rule_hits, banking_hour_blacklisted IN SHARE MODE;
DELETE FROM banking_day_stats;
INSERT INTO banking_day_stats (day, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('day', hour, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM banking_hour_stats
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_day_rule_hits;
INSERT INTO banking_day_rule_hits (day, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('day', hour, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM banking_hour_rule_hits
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_day_blacklisted;
INSERT INTO banking_day_blacklisted (day, account_holder_name, txns)
SELECT date_trunc('day', hour, 'UTC'), account_holder_name, sum(txns)
FROM banking_hour_blacklisted
GROUP BY 1, 2;
ANALYZE banking_day_stats, banking_day_rule_hits, banking_day_blacklisted;
