-- Before a load writes the running totals: one lock for all of them, taken last (after the load's
-- hour and day locks; retention takes it after every hour's lock), held until commit. Loads of
-- disjoint time touch the same pairs (a load of the past moves every later total), so they take turns.
SELECT pg_advisory_xact_lock(hashtext('banking_account_totals'), 0);
