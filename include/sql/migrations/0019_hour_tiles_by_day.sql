-- The hour tiles (0014) partitioned by UTC day, as banking_data is, one partition per day of data
-- (banking_account_hours_pYYYYMMDD, created and dropped with banking_data_pYYYYMMDD): a live load's
-- upserts go into its own day's primary key, a day of tiles that stays in the cache, instead of one
-- key over the whole retention (a week of tiles at 1,000 a minute, 7.5 million rows, does not), and
-- retention drops a day's tiles with its partition instead of deleting them row by row. Reads by
-- account over a range of hours touch the days of that range only (one index range scan per day).
-- Partitions cannot carry storage parameters on the parent: each day's gets 0014's vacuum settings.
ALTER TABLE banking_account_hours RENAME TO banking_account_hours_unpartitioned;
ALTER INDEX banking_account_hours_pkey RENAME TO banking_account_hours_unpartitioned_pkey;
CREATE TABLE banking_account_hours (
    account_id uuid NOT NULL,
    hour       timestamptz NOT NULL,
    country    char(2) NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL
) PARTITION BY RANGE (hour);

-- banking_ensure_partitions (0010) creates each day's hour tiles partition beside its data one.
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
                                       ELSE '' END);
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

-- banking_drop_partitions_before (0004) drops each day's hour tiles with its data; it still returns
-- the data partitions' names.
CREATE OR REPLACE FUNCTION banking_drop_partitions_before(p_cutoff date)
RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    part text;
    day  date;
BEGIN
    FOR part, day IN SELECT partition_name, b.day FROM banking_partitions_before(p_cutoff) AS b LOOP
        EXECUTE format('DROP TABLE %I', part);
        EXECUTE format('DROP TABLE IF EXISTS %I', 'banking_account_hours_p' || to_char(day, 'YYYYMMDD'));
        RETURN NEXT part;
    END LOOP;
END
$$;

-- A partition for every day of data, and for every day of tiles (there is no tile without its day's
-- data; this only keeps the copy below from failing if there were), then the tiles themselves.
DO $$
DECLARE
    day date;
BEGIN
    FOR day IN
        SELECT to_date(substring(c.relname FROM 'banking_data_p(\d{8})$'), 'YYYYMMDD')
        FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'banking_data'::regclass AND c.relname ~ '^banking_data_p\d{8}$'
        UNION
        SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date FROM banking_account_hours_unpartitioned
    LOOP
        PERFORM banking_ensure_partitions(day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    END LOOP;
END
$$;
INSERT INTO banking_account_hours (account_id, hour, country, txns, cents)
SELECT account_id, hour, country, txns, cents FROM banking_account_hours_unpartitioned;
DROP TABLE banking_account_hours_unpartitioned;
-- The key after the copy: each day's index is built by one sort (0014's key, on every partition).
ALTER TABLE banking_account_hours ADD PRIMARY KEY (account_id, hour, country) INCLUDE (txns, cents);

GRANT SELECT ON banking_account_hours TO banking_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON banking_account_hours TO banking_writer;
ANALYZE banking_account_hours;
