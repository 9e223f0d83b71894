-- The stable synthetic population that transactions are drawn from (seeded by banking_schema).

-- One row per population version (a hash of seed and sizes) that was seeded into these tables.
CREATE TABLE IF NOT EXISTS banking_population (
    version     text PRIMARY KEY,
    seed        integer NOT NULL,
    accounts    integer NOT NULL,
    merchants   integer NOT NULL,
    cards       integer NOT NULL,
    blacklisted integer NOT NULL,
    seeded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS accounts (
    account_id   uuid PRIMARY KEY,
    holder_name  varchar(100) NOT NULL,
    home_country char(2) NOT NULL,
    city         varchar(80) NOT NULL,
    currency     char(3) NOT NULL,
    opened_on    date NOT NULL,
    population   text NOT NULL REFERENCES banking_population (version)
);

CREATE TABLE IF NOT EXISTS cards (
    card_ref   uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (account_id),
    card_type  varchar(20) NOT NULL CHECK (card_type IN ('visa', 'mastercard')),
    masked_pan varchar(20) NOT NULL,
    issued_on  date NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_account_id_idx ON cards (account_id);

CREATE TABLE IF NOT EXISTS merchants (
    merchant_id uuid PRIMARY KEY,
    name        varchar(100) NOT NULL,
    category    varchar(50) NOT NULL,
    country     char(2) NOT NULL,
    city        varchar(80) NOT NULL,
    population  text NOT NULL REFERENCES banking_population (version)
);

CREATE TABLE IF NOT EXISTS blacklist (
    account_id uuid PRIMARY KEY REFERENCES accounts (account_id),
    reason     text NOT NULL,
    listed_on  date NOT NULL
);
