-- Every hour's lock at once (see load/lock_hours), and so every day's (see load/lock_days): for a
-- window of many hours, and for retention.
SELECT pg_advisory_xact_lock(hashtext('banking_hour_rollups'), -1);
