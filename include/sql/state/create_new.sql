-- The new rows of a load, per (account, country, minute), COPYed from the batch (state.replace_range).
CREATE TEMP TABLE banking_state_new (
    account_id uuid NOT NULL,
    country    char(2) NOT NULL,
    minute     timestamptz NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL
) ON COMMIT DROP;
