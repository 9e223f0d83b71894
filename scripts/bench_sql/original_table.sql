-- make bench: the original notebook's table (see ../shared/README.md), for its one-row-per-commit loop,
-- which ran the CREATE TABLE IF NOT EXISTS on every pass.
DROP TABLE IF EXISTS bench_original;
CREATE TABLE IF NOT EXISTS bench_original (
    id SERIAL PRIMARY KEY,
    "timestamp" TIMESTAMPTZ,
    uniq_id UUID,
    trans_type VARCHAR(50),
    amount DECIMAL(10, 2),
    amount_crr DECIMAL(10, 2),
    account_holder_name VARCHAR(100),
    card_presense VARCHAR(50),
    merchant_category VARCHAR(50),
    card_type VARCHAR(50),
    card_id VARCHAR(20),
    account_id UUID,
    account_blacklisted BOOLEAN,
    rules_triggered VARCHAR(100),
    rules_explanation VARCHAR(100),
    decision VARCHAR(100)
);
