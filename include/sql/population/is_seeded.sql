SELECT EXISTS (SELECT 1 FROM banking_population WHERE version = %(version)s);
