-- The UTC days before %(before)s (a midnight) that have loaded minutes at or after the state's
-- horizon and are not sealed yet, oldest first: what store/account_tiles.seal_days seals.
SELECT DISTINCT date_trunc('day', b.window_start, 'UTC') AS day
FROM banking_batches AS b
WHERE b.window_start < %(before)s
  AND b.window_start >= (SELECT horizon FROM banking_state_horizon)
  AND NOT EXISTS (
      SELECT FROM banking_sealed_days AS s WHERE s.day = date_trunc('day', b.window_start, 'UTC')
  )
ORDER BY day;
