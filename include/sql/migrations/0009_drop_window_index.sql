-- banking_data_window_idx repeated what the primary key already gives: a window's rows all lie
-- in its time range (the CHECK on banking_data), so load/delete_window finds them through the
-- primary key's "timestamp" range and the backtests read windows through it too. Every load paid
-- to maintain it: about a tenth of the COPY's time (docs/performance.md).
DROP INDEX IF EXISTS banking_data_window_idx;
