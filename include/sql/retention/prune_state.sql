-- The tiles before the cutoff (store/account_tiles), after the partitions were dropped (the hour
-- tiles' day partitions with the data's: the first DELETE finds only what a partition outside
-- that pairing held), under every hour's lock (retention takes it first). The horizon moves to the cutoff (the start of a day, so of
-- an hour too): the state then counts no row before it, whatever a later load of that time writes.
DELETE FROM banking_account_hours WHERE hour < %(cutoff)s;
DELETE FROM banking_account_days WHERE day < %(cutoff)s;
DELETE FROM banking_sealed_days WHERE day < %(cutoff)s;
-- A block reaching before the cutoff would count tiles no longer there: it goes (built again by
-- the retention DAG's state task).
DELETE FROM banking_account_block WHERE EXISTS (SELECT FROM banking_state_block WHERE since < %(cutoff)s);
DELETE FROM banking_state_block WHERE since < %(cutoff)s;
UPDATE banking_state_horizon SET horizon = greatest(horizon, %(cutoff)s);
