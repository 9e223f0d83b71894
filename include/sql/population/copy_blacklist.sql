COPY blacklist (account_id, reason, listed_on) FROM STDIN
