-- The sealed days in [%(since)s, %(until)s): the days whose day tiles a read may take (the others'
-- hours come from the hour tiles). Read in the state read's snapshot.
SELECT day FROM banking_sealed_days WHERE day >= %(since)s AND day < %(until)s ORDER BY day;
