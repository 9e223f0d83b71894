-- The block's rows left at zero by its moves (accounts with no row in its minutes any more), under
-- the block's lock (store/account_tiles.prune_block, from the retention DAG's state task): reads
-- skip them, so this only gives their room back. Between two prunes, the rows of the accounts
-- that paid in the look-back and left it.
DELETE FROM banking_account_block WHERE txns = 0;
