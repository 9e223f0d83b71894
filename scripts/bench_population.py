"""``make bench``'s ``population`` section: how long a population takes to build, load and seed, and its memory.

For each size, in a fresh process (so that its peak RSS is the population's alone): the build
(Faker pools, then NumPy draws), the sampling tables (``tables_for``: id indices and weights), the
``.npz`` cache's size and the time to read it back, and the seed into PostgreSQL through
``schema.seed_population`` when ``--admin`` is given. ``population_vs_faker_per_account`` is the
build's accounts/s over what one Faker name, city and card number per account would give, timed in
the same process. Figures are ``name[accounts]: value`` lines.

    python scripts/bench_population.py --sizes 50000,1000000,10000000 [--admin DSN]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from banking.stream.settings import GeneratorSettings  # noqa: E402

FAKER_SAMPLE = 2_000  # accounts' worth of Faker calls timed for the comparison


def measure(n_accounts: int, admin: str | None, dbname: str) -> dict[str, float]:
    """The figures of one size, in this process."""
    from banking.stream import population as pop
    from banking.stream.batch import tables_for

    settings = GeneratorSettings(n_accounts=n_accounts)
    figures: dict[str, float] = {}
    started = time.perf_counter()
    built = pop.build_population(*settings.population_key, version=settings.population_version)
    figures["build_s"] = time.perf_counter() - started
    started = time.perf_counter()
    tables_for(built)
    figures["tables_s"] = time.perf_counter() - started
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["cards"] = built.n_cards
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "population.npz"
        pop._save(built, cache)
        figures["cache_mb"] = cache.stat().st_size / 1e6
        started = time.perf_counter()
        pop._load(built.version, cache)
        figures["cache_read_s"] = time.perf_counter() - started
    figures["vs_faker_per_account"] = (n_accounts / figures["build_s"]) / _faker_accounts_per_s()
    if admin:
        figures["seed_s"] = _seed(admin, dbname, settings)
    return figures


def _faker_accounts_per_s() -> float:
    """Accounts per second when each gets its own Faker name, city and card number (the old way)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(1)
    started = time.perf_counter()
    for _ in range(FAKER_SAMPLE):
        fake.name(), fake.city(), fake.credit_card_number(card_type="visa16")
    return FAKER_SAMPLE / (time.perf_counter() - started)


def _seed(admin: str, dbname: str, settings: GeneratorSettings) -> float:
    """Seconds to seed the population of ``settings`` into a fresh database (migrations not counted)."""
    import psycopg
    from psycopg import sql as psql

    from banking.store import schema
    from banking.stream.population import population_for

    population_for(settings)  # in this process's memory, so the seed's own lookup is free
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psql.Identifier(dbname)))
        conn.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(dbname)))
    try:
        with psycopg.connect(admin, dbname=dbname, autocommit=True) as conn:
            schema.apply_migrations(conn)
            started = time.perf_counter()
            schema.seed_population(conn, settings)
            return time.perf_counter() - started
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psql.Identifier(dbname)))


def population(sizes: list[int], admin: str | None, dbname: str, emit) -> None:
    """Run each size in its own process and emit its figures."""
    for n in sizes:
        command = [sys.executable, __file__, "--one", str(n), "--db", dbname]
        command += ["--admin", admin] if admin else []
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"population {n}: {result.stderr[-2000:]}")
        for name, value in json.loads(result.stdout.splitlines()[-1]).items():
            emit(f"population_{name}[{n}]", value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="50000,1000000,10000000")
    parser.add_argument("--admin", help="a PostgreSQL DSN that may create databases: also time the seed")
    parser.add_argument("--db", default="banking_bench_population")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.admin, args.db)))
        return 0

    def emit(name: str, value: float) -> None:
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}", flush=True)

    population([int(s) for s in args.sizes.split(",")], args.admin, args.db, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
