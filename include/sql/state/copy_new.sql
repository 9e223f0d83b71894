COPY banking_state_new (account_id, country, minute, txns, cents) FROM STDIN (FORMAT binary)
