-- After the hour locks and before the days' rollups change (load/apply_rollup_changes): one
-- advisory lock per UTC day the window touches (days since the epoch), in ascending order, held
-- until commit.
-- Why this cannot deadlock: every load takes its rollup locks in one global order (the shared lock
-- on all hours, its hours ascending, then its days ascending: never an hour after a day), so a load
-- only ever waits for a lock that comes after every lock it holds, and a cycle of waits would need
-- a lock that comes after itself. Hour and day rows are written only under these locks, so no row
-- lock can close a cycle either. The exclusive lock on all hours (load/lock_all_hours: a long
-- window's load, retention) stands for every day's lock: while it is held no other load holds the
-- shared one, so none is between its hour locks and its commit.
SELECT count(pg_advisory_xact_lock(hashtext('banking_day_rollups'), d))
FROM generate_series(%(first_day)s::integer, %(last_day)s::integer) AS d;
