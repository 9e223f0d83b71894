-- The latest minute that banking_account_totals holds, or a later one ('-infinity': none). A load
-- replaces the totals of its own range and moves every later total (state/replace.sql): a live
-- load, whose range ends after every total, has nothing to delete or move, and skips those two
-- statements instead of probing the totals of each of its pairs for them. state/replace.sql raises
-- it under the state's lock; retention only removes totals, which leaves it an upper bound.
ALTER TABLE banking_state_horizon ADD COLUMN IF NOT EXISTS latest timestamptz NOT NULL DEFAULT '-infinity';
UPDATE banking_state_horizon
SET latest = coalesce((SELECT max(minute) FROM banking_account_totals), '-infinity');
