COPY banking_state_new (account_id, hour, country, txns, cents) FROM STDIN (FORMAT binary)
