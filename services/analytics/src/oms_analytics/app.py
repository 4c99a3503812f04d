"""Composition root of the analytics service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from oms_analytics.api import build_router
from oms_analytics.db import metadata
from oms_analytics.handlers import HANDLERS
from oms_analytics.rebuild import Rebuilder, RebuildRuns
from oms_analytics.settings import Settings
from oms_shared.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS, title="OMS Analytics")
    for event_cls, handler in HANDLERS.items():
        runtime.consumer.on(event_cls, handler)
    runs = RebuildRuns(
        Rebuilder(
            runtime.db,
            settings.kafka_bootstrap,
            HANDLERS,
            batch_size=settings.rebuild_batch_size,
            idle_s=settings.rebuild_idle_s,
        )
    )
    runtime.on_stopping.append(runs.stop)
    runtime.routers.append(build_router(runtime.db, runs, runtime.registry))
    return runtime.build_app()
