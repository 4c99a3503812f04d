"""Oversized pages: every list route of every service answers ``limit=1000000`` with a clear 422 in the error
shape (the page size is bounded by the route), before it reads anything."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.services import bearer, token_for

SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")


def app_of(service: str, tmp_path: Path, keys: tuple[Path, Path]) -> FastAPI:
    package = f"oms_{service.replace('-', '_')}"
    settings_type = importlib.import_module(f"{package}.settings").Settings
    extra: dict[str, Any] = {"jwt_private_key_file": str(keys[0])} if service == "orders" else {}
    settings = settings_type(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", jwt_public_key_file=str(keys[1]), **extra
    )
    app: FastAPI = importlib.import_module(f"{package}.app").create_app(settings)
    return app


def list_routes(app: FastAPI) -> list[str]:
    """Paths of the GET routes that take a ``limit`` query parameter, path parameters filled with a new id."""
    out = []
    for path, item in app.openapi()["paths"].items():
        get = item.get("get")
        if not get or not any(p["name"] == "limit" and p["in"] == "query" for p in get.get("parameters", [])):
            continue
        out.append(path.format(**{p["name"]: uuid.uuid4() for p in get["parameters"] if p["in"] == "path"}))
    return out


@pytest.mark.parametrize("service", SERVICES)
async def test_a_page_of_a_million_is_refused_by_every_list_route(
    service: str, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    app = app_of(service, tmp_path, keys)
    routes = list_routes(app)
    assert routes or service == "analytics", f"{service} has no list route: is `limit` still the page size?"
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for path in routes:
            r = await client.get(path, params={"limit": 1_000_000}, headers=bearer(token))
            assert r.status_code == 422, (service, path, r.status_code, r.text[:300])
            error = r.json()["error"]
            assert error["code"] and error["message"], (service, path, error)
