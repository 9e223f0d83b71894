SELECT count(*) FROM banking_staging WHERE staged_at < %(stale_before)s;
