-- Moving the block after a load (store/account_tiles.advance_block) waits at most this long for a
-- lock (the block's, an hour's, a block row's that an uncommitted load of its minutes holds): it
-- then gives up, and a later load moves it further. The live loads never wait for a backfill.
SET LOCAL lock_timeout = '50ms';
