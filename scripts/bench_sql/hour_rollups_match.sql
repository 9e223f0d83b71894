-- make bench (dashboard): the hourly rollups hold exactly the per-minute rollups' totals.
SELECT (SELECT coalesce(sum(txns), 0) FROM banking_minute_stats)
           = (SELECT coalesce(sum(txns), 0) FROM banking_hour_stats)
   AND (SELECT coalesce(sum(hits), 0) FROM banking_minute_rule_hits)
           = (SELECT coalesce(sum(hits), 0) FROM banking_hour_rule_hits)
   AND (SELECT count(*) FROM banking_data WHERE account_blacklisted)
           = (SELECT coalesce(sum(txns), 0) FROM banking_hour_blacklisted);
