"""Rule backtests: replay stored windows with a candidate rule set through the live engine."""
