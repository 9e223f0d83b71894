-- The hourly and daily rollups of the hours and days a load touches, changed by what it changed in
-- their minutes: + its minutes' rollups and its blacklisted accounts' rows, written by now, - those it
-- replaced (the arrays that load/delete_window and load/delete_rollups returned), in its load
-- transaction under load/lock_hours and load/lock_days. An hour then holds exactly the sum of its
-- minutes and a day of its hours, as a recomputation gives (tests/db/test_loader.py checks both),
-- without reading them. Per key: a row that the change empties goes, one that it changes is
-- updated, one that it creates is inserted (an upsert would check txns > 0 on the proposed row
-- before finding the one it updates). Each statement writes disjoint rows of each table, from one
-- snapshot. Every read of the hours and days is bounded to the load's ([first_hour, end),
-- [first_day, end)), so that it scans their few rows, not the table (the planner's estimates for the
-- CTEs are large).
WITH change AS (
    SELECT hour, trans_type, decision, injected_fraud, sum(txns)::bigint AS txns, sum(amount) AS amount
    FROM (
        SELECT date_trunc('hour', minute, 'UTC'), trans_type, decision, injected_fraud, txns, amount
        FROM banking_minute_stats
        WHERE minute >= %(start)s AND minute < %(end)s
        UNION ALL
        SELECT hour, trans_type, decision, injected_fraud, -txns, -amount
        FROM unnest(%(stats_hour)s::timestamptz[], %(stats_trans_type)s::text[], %(stats_decision)s::text[],
                    %(stats_injected_fraud)s::boolean[], %(stats_txns)s::bigint[], %(stats_amount)s::numeric[])
            AS o (hour, trans_type, decision, injected_fraud, txns, amount)
    ) AS c (hour, trans_type, decision, injected_fraud, txns, amount)
    GROUP BY 1, 2, 3, 4
    HAVING sum(txns) <> 0 OR sum(amount) <> 0
), hours AS (
    SELECT c.*, h.txns AS had
    FROM change AS c
    LEFT JOIN (SELECT * FROM banking_hour_stats WHERE hour >= %(first_hour)s AND hour < %(end)s) AS h
        USING (hour, trans_type, decision, injected_fraud)
), days AS (
    SELECT c.*, d.txns AS had
    FROM (
        SELECT date_trunc('day', hour, 'UTC') AS day, trans_type, decision, injected_fraud,
               sum(txns)::bigint AS txns, sum(amount) AS amount
        FROM change
        GROUP BY 1, 2, 3, 4
        HAVING sum(txns) <> 0 OR sum(amount) <> 0
    ) AS c
    LEFT JOIN (SELECT * FROM banking_day_stats WHERE day >= %(first_day)s AND day < %(end)s) AS d
        USING (day, trans_type, decision, injected_fraud)
), hours_changed AS (
    UPDATE banking_hour_stats AS h SET txns = h.txns + c.txns, amount = h.amount + c.amount
    FROM hours AS c
    WHERE h.hour >= %(first_hour)s AND h.hour < %(end)s
      AND h.hour = c.hour AND h.trans_type = c.trans_type AND h.decision = c.decision
      AND h.injected_fraud = c.injected_fraud AND c.had + c.txns <> 0
), hours_emptied AS (
    DELETE FROM banking_hour_stats AS h
    USING hours AS c
    WHERE h.hour >= %(first_hour)s AND h.hour < %(end)s
      AND h.hour = c.hour AND h.trans_type = c.trans_type AND h.decision = c.decision
      AND h.injected_fraud = c.injected_fraud AND c.had + c.txns = 0
), hours_added AS (
    INSERT INTO banking_hour_stats (hour, trans_type, decision, injected_fraud, txns, amount)
    SELECT hour, trans_type, decision, injected_fraud, txns, amount FROM hours WHERE had IS NULL
), days_changed AS (
    UPDATE banking_day_stats AS d SET txns = d.txns + c.txns, amount = d.amount + c.amount
    FROM days AS c
    WHERE d.day >= %(first_day)s AND d.day < %(end)s
      AND d.day = c.day AND d.trans_type = c.trans_type AND d.decision = c.decision
      AND d.injected_fraud = c.injected_fraud AND c.had + c.txns <> 0
), days_emptied AS (
    DELETE FROM banking_day_stats AS d
    USING days AS c
    WHERE d.day >= %(first_day)s AND d.day < %(end)s
      AND d.day = c.day AND d.trans_type = c.trans_type AND d.decision = c.decision
      AND d.injected_fraud = c.injected_fraud AND c.had + c.txns = 0
)
INSERT INTO banking_day_stats (day, trans_type, decision, injected_fraud, txns, amount)
SELECT day, trans_type, decision, injected_fraud, txns, amount FROM days WHERE had IS NULL;
-- The same for the rule hits.
WITH change AS (
    SELECT hour, rule_id, decision, injected_fraud, sum(hits)::bigint AS hits, sum(amount) AS amount
    FROM (
        SELECT date_trunc('hour', minute, 'UTC'), rule_id, decision, injected_fraud, hits, amount
        FROM banking_minute_rule_hits
        WHERE minute >= %(start)s AND minute < %(end)s
        UNION ALL
        SELECT hour, rule_id, decision, injected_fraud, -hits, -amount
        FROM unnest(%(hits_hour)s::timestamptz[], %(hits_rule_id)s::text[], %(hits_decision)s::text[],
                    %(hits_injected_fraud)s::boolean[], %(hits_hits)s::bigint[], %(hits_amount)s::numeric[])
            AS o (hour, rule_id, decision, injected_fraud, hits, amount)
    ) AS c (hour, rule_id, decision, injected_fraud, hits, amount)
    GROUP BY 1, 2, 3, 4
    HAVING sum(hits) <> 0 OR sum(amount) <> 0
), hours AS (
    SELECT c.*, h.hits AS had
    FROM change AS c
    LEFT JOIN (SELECT * FROM banking_hour_rule_hits WHERE hour >= %(first_hour)s AND hour < %(end)s) AS h
        USING (hour, rule_id, decision, injected_fraud)
), days AS (
    SELECT c.*, d.hits AS had
    FROM (
        SELECT date_trunc('day', hour, 'UTC') AS day, rule_id, decision, injected_fraud,
               sum(hits)::bigint AS hits, sum(amount) AS amount
        FROM change
        GROUP BY 1, 2, 3, 4
        HAVING sum(hits) <> 0 OR sum(amount) <> 0
    ) AS c
    LEFT JOIN (SELECT * FROM banking_day_rule_hits WHERE day >= %(first_day)s AND day < %(end)s) AS d
        USING (day, rule_id, decision, injected_fraud)
), hours_changed AS (
    UPDATE banking_hour_rule_hits AS h SET hits = h.hits + c.hits, amount = h.amount + c.amount
    FROM hours AS c
    WHERE h.hour >= %(first_hour)s AND h.hour < %(end)s
      AND h.hour = c.hour AND h.rule_id = c.rule_id AND h.decision = c.decision
      AND h.injected_fraud = c.injected_fraud AND c.had + c.hits <> 0
), hours_emptied AS (
    DELETE FROM banking_hour_rule_hits AS h
    USING hours AS c
    WHERE h.hour >= %(first_hour)s AND h.hour < %(end)s
      AND h.hour = c.hour AND h.rule_id = c.rule_id AND h.decision = c.decision
      AND h.injected_fraud = c.injected_fraud AND c.had + c.hits = 0
), hours_added AS (
    INSERT INTO banking_hour_rule_hits (hour, rule_id, decision, injected_fraud, hits, amount)
    SELECT hour, rule_id, decision, injected_fraud, hits, amount FROM hours WHERE had IS NULL
), days_changed AS (
    UPDATE banking_day_rule_hits AS d SET hits = d.hits + c.hits, amount = d.amount + c.amount
    FROM days AS c
    WHERE d.day >= %(first_day)s AND d.day < %(end)s
      AND d.day = c.day AND d.rule_id = c.rule_id AND d.decision = c.decision
      AND d.injected_fraud = c.injected_fraud AND c.had + c.hits <> 0
), days_emptied AS (
    DELETE FROM banking_day_rule_hits AS d
    USING days AS c
    WHERE d.day >= %(first_day)s AND d.day < %(end)s
      AND d.day = c.day AND d.rule_id = c.rule_id AND d.decision = c.decision
      AND d.injected_fraud = c.injected_fraud AND c.had + c.hits = 0
)
INSERT INTO banking_day_rule_hits (day, rule_id, decision, injected_fraud, hits, amount)
SELECT day, rule_id, decision, injected_fraud, hits, amount FROM days WHERE had IS NULL;
-- The blacklisted accounts' transactions per holder: the load's rows through the partial index on
-- account_blacklisted, less those it replaced.
WITH change AS (
    SELECT hour, account_holder_name, sum(txns)::bigint AS txns
    FROM (
        SELECT date_trunc('hour', "timestamp", 'UTC'), account_holder_name, 1::bigint
        FROM banking_data
        WHERE account_blacklisted AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
        UNION ALL
        SELECT hour, account_holder_name, -txns
        FROM unnest(%(blacklisted_hour)s::timestamptz[], %(blacklisted_holder)s::text[],
                    %(blacklisted_txns)s::bigint[]) AS o (hour, account_holder_name, txns)
    ) AS c (hour, account_holder_name, txns)
    GROUP BY 1, 2
    HAVING sum(txns) <> 0
), hours AS (
    SELECT c.*, h.txns AS had
    FROM change AS c
    LEFT JOIN (SELECT * FROM banking_hour_blacklisted WHERE hour >= %(first_hour)s AND hour < %(end)s) AS h
        USING (hour, account_holder_name)
), days AS (
    SELECT c.*, d.txns AS had
    FROM (
        SELECT date_trunc('day', hour, 'UTC') AS day, account_holder_name, sum(txns)::bigint AS txns
        FROM change
        GROUP BY 1, 2
        HAVING sum(txns) <> 0
    ) AS c
    LEFT JOIN (SELECT * FROM banking_day_blacklisted WHERE day >= %(first_day)s AND day < %(end)s) AS d
        USING (day, account_holder_name)
), hours_changed AS (
    UPDATE banking_hour_blacklisted AS h SET txns = h.txns + c.txns
    FROM hours AS c
    WHERE h.hour >= %(first_hour)s AND h.hour < %(end)s
      AND h.hour = c.hour AND h.account_holder_name = c.account_holder_name AND c.had + c.txns <> 0
), hours_emptied AS (
    DELETE FROM banking_hour_blacklisted AS h
    USING hours AS c
    WHERE h.hour >= %(first_hour)s AND h.hour < %(end)s
      AND h.hour = c.hour AND h.account_holder_name = c.account_holder_name AND c.had + c.txns = 0
), hours_added AS (
    INSERT INTO banking_hour_blacklisted (hour, account_holder_name, txns)
    SELECT hour, account_holder_name, txns FROM hours WHERE had IS NULL
), days_changed AS (
    UPDATE banking_day_blacklisted AS d SET txns = d.txns + c.txns
    FROM days AS c
    WHERE d.day >= %(first_day)s AND d.day < %(end)s
      AND d.day = c.day AND d.account_holder_name = c.account_holder_name AND c.had + c.txns <> 0
), days_emptied AS (
    DELETE FROM banking_day_blacklisted AS d
    USING days AS c
    WHERE d.day >= %(first_day)s AND d.day < %(end)s
      AND d.day = c.day AND d.account_holder_name = c.account_holder_name AND c.had + c.txns = 0
)
INSERT INTO banking_day_blacklisted (day, account_holder_name, txns)
SELECT day, account_holder_name, txns FROM days WHERE had IS NULL;
