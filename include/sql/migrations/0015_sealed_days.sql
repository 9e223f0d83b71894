-- Day tiles for closed days only: a live load writes hour tiles, and the day tiles of a UTC day are
-- built once, from that day's rows, when the day is sealed (store/account_tiles.seal_days: the
-- retention DAG seals the days before its run, a warm start the days it loaded). From then on
-- every load of that day keeps its day tiles exact, as before; reads take a sealed day's tiles and
-- an unsealed day's hours (rules/history_totals). A live row so writes one tile instead of two.
CREATE TABLE IF NOT EXISTS banking_sealed_days (
    day       timestamptz PRIMARY KEY,
    sealed_at timestamptz NOT NULL DEFAULT now(),
    CHECK (day = date_trunc('day', day, 'UTC'))
);

-- The day tiles so far were kept by every load: each day that has them is complete.
INSERT INTO banking_sealed_days (day)
SELECT DISTINCT day FROM banking_account_days
ON CONFLICT DO NOTHING;

GRANT SELECT ON banking_sealed_days TO banking_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON banking_sealed_days TO banking_writer;
