"""Apply one service's database migrations and exit: ``python -m oms_shared.migrate orders``.

Every service also migrates at start (under the same advisory lock, so replicas never migrate twice);
this runs the same step on its own, for a deployment that migrates before it rolls the new version out
(the Kubernetes migration Jobs under ``deploy/k8s``). Settings come from the service's environment
(``OMS_<SERVICE>_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from pathlib import Path

from oms_shared.db import create_engine
from oms_shared.migrations import upgrade_to_head

SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")


async def migrate(service: str) -> str:
    """Bring ``service``'s database to the newest schema; returns the database URL's dialect."""
    package = f"oms_{service.replace('-', '_')}"
    settings = importlib.import_module(f"{package}.settings").Settings()
    migrations = Path(importlib.import_module(f"{package}.app").MIGRATIONS)
    engine = create_engine(settings.resolved_database_url())
    try:
        await upgrade_to_head(engine, migrations)
        return str(engine.dialect.name)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oms_shared.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=SERVICES)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dialect = asyncio.run(migrate(args.service))
    print(f"{args.service}: {dialect} database at the newest schema")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
