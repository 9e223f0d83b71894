COPY accounts (account_id, holder_name, home_country, city, currency, opened_on, population) FROM STDIN
