-- The state read's own transaction (state._snapshot): its statements see one snapshot, so the raw
-- rows, the totals and the horizon agree even while a load commits; JIT off: the planner's estimates
-- for the probes are large, but the reads take milliseconds and compiling them took ~300 ms.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SET LOCAL jit = off;
