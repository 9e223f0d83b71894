-- Partition maintenance runs as the schema owner (SECURITY DEFINER), so that the pipeline's
-- role can make sure a day exists and retention can drop old days without owning any table.

-- Create the daily partitions that cover [p_from, p_to). Returns how many were created.
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
            -- Serialise creators; re-check under the lock.
            PERFORM pg_advisory_xact_lock(hashtext('banking_data partitions'));
            IF to_regclass(part) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF banking_data FOR VALUES FROM (%L) TO (%L)',
                               part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
                created := created + 1;
            END IF;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- Daily partitions of banking_data that end on or before p_cutoff (UTC midnight), oldest first.
-- Never one that ends after the database's current day starts: current and future days are safe.
CREATE OR REPLACE FUNCTION banking_partitions_before(p_cutoff date)
RETURNS TABLE (partition_name text, day date)
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $$
    SELECT c.relname::text, to_date(substring(c.relname FROM 'banking_data_p(\d{8})$'), 'YYYYMMDD')
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'banking_data'::regclass
      AND c.relname ~ '^banking_data_p\d{8}$'
      AND to_date(substring(c.relname FROM 'banking_data_p(\d{8})$'), 'YYYYMMDD') + 1
          <= least(p_cutoff, (now() AT TIME ZONE 'UTC')::date)
    ORDER BY 2
$$;

-- Drop the partitions banking_partitions_before(p_cutoff) lists; returns the names dropped.
CREATE OR REPLACE FUNCTION banking_drop_partitions_before(p_cutoff date)
RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    part text;
BEGIN
    FOR part IN SELECT partition_name FROM banking_partitions_before(p_cutoff) LOOP
        EXECUTE format('DROP TABLE %I', part);
        RETURN NEXT part;
    END LOOP;
END
$$;
