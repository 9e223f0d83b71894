-- The running totals before the cutoff (store/account_totals), after the partitions were dropped, under
-- every hour's lock (retention takes it first), then the state's own lock: the loads' order.
-- Each pair keeps its latest total before the cutoff when it has totals after it (the base of their
-- differences); a pair with none after it goes. The horizon moves to the cutoff: the state then
-- counts no row before it, whatever a later load of that time writes (state/replace.sql).
SELECT pg_advisory_xact_lock(hashtext('banking_account_totals'), 0);
DELETE FROM banking_account_totals AS s
WHERE s.minute < %(cutoff)s
  AND (EXISTS (SELECT 1 FROM banking_account_totals AS l
               WHERE l.account_id = s.account_id AND l.country = s.country
                 AND l.minute > s.minute AND l.minute < %(cutoff)s)
       OR NOT EXISTS (SELECT 1 FROM banking_account_totals AS l
                      WHERE l.account_id = s.account_id AND l.country = s.country
                        AND l.minute >= %(cutoff)s));
DELETE FROM banking_account_countries AS p
WHERE NOT EXISTS (SELECT 1 FROM banking_account_totals AS s
                  WHERE s.account_id = p.account_id AND s.country = p.country);
UPDATE banking_state_horizon SET horizon = greatest(horizon, %(cutoff)s);
