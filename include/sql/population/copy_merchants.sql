COPY merchants (merchant_id, name, category, country, city, population) FROM STDIN
