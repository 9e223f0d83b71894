"""Storage in PostgreSQL: schema and migrations, the binary COPY, staging, the window load, rollups, retention."""
