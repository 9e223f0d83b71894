-- Before sealing a day (state/seal_day), the first of the locks a load of that day takes: the
-- shared lock on all hours; then the day's own (load/lock_days), in the loads' order
-- (load/lock_days argues why it cannot deadlock). Held until commit.
SELECT pg_advisory_xact_lock_shared(hashtext('banking_hour_rollups'), -1);
