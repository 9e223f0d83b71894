-- The state read inside a caller's transaction: no JIT for its statements (see state/snapshot.sql).
SET LOCAL jit = off;
