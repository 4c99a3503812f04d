"""Every answer a service gave in a test must be one its OpenAPI document declares for that route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# Not a route's answer: a crash (a bug of its own, and every test fails on it anyway).
IGNORED_STATUSES = frozenset({500})


def documented(doc: dict[str, Any]) -> dict[tuple[str, str], set[int]]:
    """(method, route template) -> the statuses the document declares."""
    found: dict[tuple[str, str], set[int]] = {}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            found[(method.upper(), path)] = {int(s) for s in operation.get("responses", {}) if s.isdigit()}
    return found


def observed(app: FastAPI) -> set[tuple[str, str, int]]:
    """(method, route template, status) of every answer the app gave, from its HTTP request metrics."""
    runtime = getattr(app.state, "runtime", None)
    if runtime is None:
        return set()
    seen: set[tuple[str, str, int]] = set()
    for family in runtime.registry.collect():
        if family.name != "oms_http_requests":
            continue
        for sample in family.samples:
            if sample.name == "oms_http_requests_total" and sample.value > 0:
                labels = sample.labels
                seen.add((labels["method"], labels["route"], int(labels["status"])))
    return seen


def undocumented_answers(app: FastAPI) -> list[str]:
    """The answers the app gave that its OpenAPI document does not declare (empty when it tells the truth)."""
    declared = documented(app.openapi())
    missing = []
    for method, route, status in sorted(observed(app)):
        if route == "unmatched" or status in IGNORED_STATUSES:
            continue
        statuses = declared.get((method, route))
        if statuses is None:
            continue  # a route left out of the document on purpose (include_in_schema=False)
        if status not in statuses:
            missing.append(f"{method} {route} answered {status}, documented {sorted(statuses)}")
    return missing
