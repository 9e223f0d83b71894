-- One loader per window at a time; held until commit or rollback. Keyed on epoch seconds so that
-- the session's TimeZone setting cannot change the key.
SELECT pg_advisory_xact_lock(
    hashtext('banking_window'),
    hashtext(extract(epoch FROM %(start)s::timestamptz)::text || '/' || extract(epoch FROM %(end)s::timestamptz)::text)
);
