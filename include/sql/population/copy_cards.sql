COPY cards (card_ref, account_id, card_type, masked_pan, issued_on) FROM STDIN
