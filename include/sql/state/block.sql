-- The block's hours (store/account_tiles.py), or no row when there is no block.
SELECT since, until, near FROM banking_state_block;
