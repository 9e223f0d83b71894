-- Before a load changes the hourly rollups of the hours its window touches: one advisory lock
-- per hour (hours since the epoch, UTC), taken in ascending order so that concurrent loads (a
-- backfill next to the live run) cannot deadlock, after a shared lock on all hours that the load
-- of a long window and retention take exclusively instead (load/lock_all_hours). Held until commit.
SELECT pg_advisory_xact_lock_shared(hashtext('banking_hour_rollups'), -1);
SELECT count(pg_advisory_xact_lock(hashtext('banking_hour_rollups'), h))
FROM generate_series(%(first_hour)s::integer, %(last_hour)s::integer) AS h;
