-- Each day's banking_data partition is vacuumed after every 1% of its rows inserted (1,000 + 1% of
-- them; PostgreSQL's default is 20%), as the tiles' are (0014): a live window's read of the last
-- hour (state/raw_by_account) is an index-only scan, which fetches each row's heap page as well
-- until a vacuum marks the page all-visible. With the default, at 1,000 transactions a minute, a
-- day's partition would wait hours for its vacuum, and a live window would read the whole last
-- hour's rows twice. A vacuum of rows only inserted reads just the pages not yet all-visible.
-- Partitions cannot carry storage parameters on the parent: banking_ensure_partitions sets it on
-- each new day's partition, and here on those there are.
-- banking_ensure_partitions (0019): each day's data partition with the setting.
CREATE OR REPLACE FUNCTION banking_ensure_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    day     date;
    parent  text;
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
        FOREACH parent IN ARRAY ARRAY['banking_data', 'banking_account_hours'] LOOP
            part := parent || '_p' || to_char(day, 'YYYYMMDD');
            IF to_regclass(part) IS NULL THEN
                -- Serialise creators, then re-check what has committed since (not the catalog cache).
                PERFORM pg_advisory_xact_lock(hashtext('banking_data partitions'));
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class
                               WHERE relname = part AND relnamespace = 'public'::regnamespace) THEN
                    BEGIN
                        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)%s',
                                       part, parent,
                                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC',
                                       CASE WHEN parent = 'banking_account_hours' THEN
                                           ' WITH (autovacuum_vacuum_scale_factor = 0.01,'
                                           ' autovacuum_vacuum_insert_scale_factor = 0.01)'
                                       ELSE ' WITH (autovacuum_vacuum_insert_scale_factor = 0.01)' END);
                        IF parent = 'banking_data' THEN
                            created := created + 1;
                        END IF;
                    EXCEPTION WHEN duplicate_table OR unique_violation THEN
                        NULL;  -- created meanwhile by someone who did not take the lock
                    END;
                END IF;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END
$$;

DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN
        SELECT i.inhrelid::regclass FROM pg_inherits AS i WHERE i.inhparent = 'banking_data'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_insert_scale_factor = 0.01)', part);
    END LOOP;
END
$$;
