-- The aggregate events of the given accounts when the block is the only aggregate range (the
-- one-minute window after the latest load, history_totals.tile_pieces): each account's block rows
-- not at zero, as state/aggregates.sql packs them, at the block's event time %(block_at)s. One index
-- scan per account (LATERAL, OFFSET 0), and no grouping: a block row is already one (account,
-- country).
SELECT string_agg(
           timestamptz_send(%(block_at)s::timestamptz)
           || uuid_send(a.account_id)
           || int8send(k.txns)
           || int8send(k.cents)
           || bpcharsend(k.country),
           ''::bytea)
FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
CROSS JOIN LATERAL (
    SELECT k.country, k.txns, k.cents FROM banking_account_block AS k
    WHERE k.account_id = a.account_id AND k.txns <> 0
    OFFSET 0
) AS k;
