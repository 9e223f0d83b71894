-- Whether anything was loaded before %(before)s: a database with older data needs no warm start.
SELECT EXISTS (SELECT FROM banking_batches WHERE window_start < %(before)s);
