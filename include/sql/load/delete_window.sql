-- Every row in the load's time range, whichever run loaded it (the range is whole minutes).
DELETE FROM banking_data WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s;
