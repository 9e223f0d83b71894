-- The new rows of a load, per (account, hour, country), COPYed from the batch (account_tiles.replace_range).
CREATE TEMP TABLE banking_state_new (
    account_id uuid NOT NULL,
    hour       timestamptz NOT NULL,
    country    char(2) NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL
) ON COMMIT DROP;
