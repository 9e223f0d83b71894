-- banking_ensure_partitions, safe when two loads create the same day at once. The second creator
-- waits on the advisory lock while the first commits, then re-checked with to_regclass, which reads
-- the session's catalog cache: that cache had not yet seen the first commit, so the second
-- CREATE TABLE raised DuplicateTable. The re-check now reads pg_class with a fresh snapshot, and a
-- creator that does not take the lock (a DBA, another tool) is caught by the exception handler.
CREATE OR REPLACE FUNCTION banking_ensure_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    day     date;
    part    text;
    created integer := 0;
BEGIN
    IF p_to <= p_from THEN
        RAISE EXCEPTION 'banking_ensure_partitions: empty range [%, %)', p_from, p_to;
    END IF;
    IF p_to - p_from > interval '3700 days' THEN
        RAISE EXCEPTION 'banking_ensure_partitions: range [%, %) is longer than ten years', p_from, p_to;
    END IF;
    FOR day IN
        SELECT generate_series((p_from AT TIME ZONE 'UTC')::date,
                               ((p_to - interval '1 microsecond') AT TIME ZONE 'UTC')::date,
                               interval '1 day')::date
    LOOP
        part := 'banking_data_p' || to_char(day, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            -- Serialise creators, then re-check what has committed since (not the catalog cache).
            PERFORM pg_advisory_xact_lock(hashtext('banking_data partitions'));
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class
                           WHERE relname = part AND relnamespace = 'public'::regnamespace) THEN
                BEGIN
                    EXECUTE format('CREATE TABLE %I PARTITION OF banking_data FOR VALUES FROM (%L) TO (%L)',
                                   part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
                    created := created + 1;
                EXCEPTION WHEN duplicate_table OR unique_violation THEN
                    NULL;  -- created meanwhile by someone who did not take the lock
                END;
            END IF;
        END IF;
    END LOOP;
    RETURN created;
END
$$;
