-- Before a load deletes the rows of [%(from)s, %(end)s) from banking_data (the range from the state's
-- horizon on): their count and amount per (account, hour, country), taken away by state/replace.sql;
-- with none (the statement's row count), the load adds its rows by state/add_new.sql instead.
CREATE TEMP TABLE banking_state_old ON COMMIT DROP AS
SELECT account_id, date_trunc('hour', "timestamp", 'UTC') AS hour, country,
       count(*)::bigint AS txns, sum((amount * 100)::bigint)::bigint AS cents
FROM banking_data
WHERE "timestamp" >= %(from)s AND "timestamp" < %(end)s
GROUP BY 1, 2, 3;
