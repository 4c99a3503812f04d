"""Console entry point ``oms-analytics``: serve (default), or ``rebuild`` the read models from the topics."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from oms_analytics.app import MIGRATIONS, create_app
from oms_analytics.db import metadata
from oms_analytics.handlers import HANDLERS
from oms_analytics.rebuild import Rebuilder, RebuildReport
from oms_analytics.settings import Settings
from oms_shared.db import Database, create_engine
from oms_shared.migrations import upgrade_to_head
from oms_shared.service import serve


async def rebuild(settings: Settings, tenant_id: str | None) -> RebuildReport:
    """Reset the read models (of one tenant, or all) and replay the topics from the beginning."""
    db = Database(create_engine(settings.resolved_database_url()), metadata)
    try:
        await upgrade_to_head(db.engine, MIGRATIONS)
        rebuilder = Rebuilder(
            db,
            settings.kafka_bootstrap,
            HANDLERS,
            batch_size=settings.rebuild_batch_size,
            idle_s=settings.rebuild_idle_s,
        )
        return await rebuilder.run(tenant_id)
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oms-analytics", description="OMS analytics service")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve HTTP and consume events (the default)")
    rb = sub.add_parser("rebuild", help="reset the read models and replay the topics from the beginning")
    rb.add_argument("--tenant", help="only this supplier account (default: every tenant)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = Settings()
    if args.command == "rebuild":
        report = asyncio.run(rebuild(settings, args.tenant))
        print(json.dumps(report.as_json(), indent=2))
        return 0 if report.status == "done" else 1
    serve(create_app(settings), settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
