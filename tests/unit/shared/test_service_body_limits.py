"""Every route of every service has a body limit; the upload routes have theirs, JSON routes the small default."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fastapi import FastAPI

from oms_shared.http import BodyLimitMiddleware

MB = 1024 * 1024
SERVICES = ("oms_orders", "oms_inventory", "oms_notifications", "oms_erp_bridge", "oms_analytics")
UPLOADS = {
    ("oms_orders", "/api/v1/orders/import"): 5 * MB,
    ("oms_orders", "/api/v1/orders/{order_id}/documents"): 10 * MB,
    ("oms_inventory", "/api/v1/stock/upload"): 10 * MB,
    ("oms_erp_bridge", "/exchange/1c"): 8 * MB,
}


def limits_of(app: FastAPI) -> BodyLimitMiddleware:
    [entry] = [m for m in app.user_middleware if m.cls is BodyLimitMiddleware]
    return BodyLimitMiddleware(app.router, *entry.args, **entry.kwargs)


@pytest.mark.parametrize("package", SERVICES)
def test_every_route_has_a_body_limit_and_uploads_their_own(
    package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: tuple[Path, Path]
) -> None:
    """R-IN-3, R-STK-1, R-ERP-1: the file routes take their files (plus the form around them); every other
    route, and every path that is no route, is limited too (1 MiB unless a bulk JSON route says more)."""
    monkeypatch.setenv("OMS_VAR_DIR", str(tmp_path))
    module = importlib.import_module(f"{package}.app")
    settings_cls = importlib.import_module(f"{package}.settings").Settings
    values = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "jwt_public_key_file": str(keys[1])}
    if package == "oms_orders":
        values["jwt_private_key_file"] = str(keys[0])
    app = module.create_app(settings_cls(**values))
    limits = limits_of(app)
    assert limits.default_max_bytes == MB
    for route in app.routes:
        path = getattr(route, "path", "")
        sample = path.replace("{", "").replace("}", "")  # a concrete path of the route
        limit = limits.limit_for(sample)
        upload = UPLOADS.get((package, path))
        if upload is not None:
            assert upload <= limit <= upload + 128 * 1024, (path, limit)
        else:
            assert limit <= 16 * MB, (path, limit)
    assert limits.limit_for("/no/such/path") == MB
