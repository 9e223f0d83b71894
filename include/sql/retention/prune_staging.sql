-- Staged windows that no load task picked up (their run failed for good or was abandoned).
DELETE FROM banking_staging WHERE staged_at < %(stale_before)s;
