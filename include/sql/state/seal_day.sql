-- Seal the UTC day [%(day)s, %(day)s + 1 day): its day tiles from its rows at or after the horizon,
-- per (account, country), and the day in banking_sealed_days, in one transaction, under the day's
-- lock (state/lock_day: a load of the day holds it until it commits, so the rows read here are
-- all of the committed loads'). From then on every load of the day keeps its day tiles
-- (state/replace.sql). A day not sealed has no day tile; one sealed already is left as it is.
INSERT INTO banking_account_days AS d (account_id, day, country, txns, cents)
SELECT account_id, %(day)s::timestamptz, country, count(*), sum((amount * 100)::bigint)
FROM banking_data
WHERE "timestamp" >= greatest(%(day)s::timestamptz, (SELECT horizon FROM banking_state_horizon))
  AND "timestamp" < %(day)s::timestamptz + interval '1 day'
  AND NOT EXISTS (SELECT FROM banking_sealed_days WHERE day = %(day)s)
GROUP BY account_id, country
ORDER BY account_id, country
ON CONFLICT (account_id, day, country) DO UPDATE SET txns = excluded.txns, cents = excluded.cents;
INSERT INTO banking_sealed_days (day) VALUES (%(day)s) ON CONFLICT DO NOTHING;
