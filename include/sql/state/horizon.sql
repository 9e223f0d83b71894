-- The time before which the tiles count no row (retention's latest cutoff); NULL: none.
SELECT nullif(horizon, '-infinity') FROM banking_state_horizon;
