-- Held until the end of the transaction: one schema change at a time.
SELECT pg_advisory_xact_lock(hashtext('banking_schema'));
