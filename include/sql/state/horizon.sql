-- The time before which the running totals count no row (retention's latest cutoff); NULL: none.
SELECT nullif(horizon, '-infinity') FROM banking_state_horizon;
