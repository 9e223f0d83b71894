-- Before sealing a day (state/seal_day): the locks a load of that day takes, in the loads' order
-- (load/lock_days argues why it cannot deadlock): the shared lock on all hours, then the day's.
-- Held until commit.
SELECT pg_advisory_xact_lock_shared(hashtext('banking_hour_rollups'), -1);
SELECT pg_advisory_xact_lock(hashtext('banking_day_rollups'), %(day_number)s::integer);
