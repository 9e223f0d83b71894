INSERT INTO banking_population (version, seed, accounts, merchants, cards, blacklisted)
VALUES (%(version)s, %(seed)s, %(accounts)s, %(merchants)s, %(cards)s, %(blacklisted)s)
ON CONFLICT (version) DO NOTHING;
