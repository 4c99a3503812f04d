"""The plumbing of every service client: the user's bearer token, the error shape, the call counter."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram


class ServiceError(Exception):
    """A service refused the call with its error shape ``{"error": {code, message, details}}``."""

    def __init__(self, service: str, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{service} answered {status} {code}: {message}")
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def field_errors(self) -> dict[str, str]:
        """Messages per form field, from ``details`` as the services give them (a dict per field, or a list
        of pydantic-style ``{loc, msg}``)."""
        found: dict[str, str] = {}
        details = self.details
        if isinstance(details, dict):
            for key, value in details.items():
                if isinstance(value, str):
                    found[str(key)] = value
                elif isinstance(value, list) and value and isinstance(value[0], str):
                    found[str(key)] = "; ".join(value)
        elif isinstance(details, list):
            for item in details:
                if isinstance(item, dict) and "msg" in item:
                    loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
                    found[".".join(loc) or "_"] = str(item["msg"])
                elif isinstance(item, dict) and "field" in item:
                    found[str(item["field"])] = str(item.get("message") or item.get("reason") or "")
        return found


class ServiceUnavailable(Exception):
    """A service did not answer (down, timed out, or answered 5xx): the page says so, never a trace."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class SessionExpired(Exception):
    """The user's session has ended (no token, or the services no longer take it): sign in again."""


class ConsoleMetrics:
    """Service calls per request, readable by the benchmark from ``/metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "oms_console_service_calls_total", "Calls the console made to the services", ["service", "status"],
            registry=registry,
        )  # fmt: skip
        self.per_request = Histogram(
            "oms_console_service_calls_per_request",
            "Service calls made to answer one console request",
            buckets=(0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
            registry=registry,
        )


@dataclass
class CallLog:
    """The service calls made for one console request."""

    metrics: ConsoleMetrics | None = None
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def record(self, service: str, path: str, status: int) -> None:
        self.calls.append((service, path, status))
        if self.metrics is not None:
            self.metrics.calls.labels(service, str(status)).inc()

    @property
    def count(self) -> int:
        return len(self.calls)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


class ServiceClient:
    """One service seen with the signed-in user's token; each client module adds typed calls."""

    service = "service"

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str | None, log: CallLog) -> None:
        self.http = http
        self.base_url = base_url
        self.token = token
        self.log = log

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        files: Any = None,
        data: Any = None,
        if_match: str | None = None,
        idempotency_key: str | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        headers: dict[str, str] = {"Accept": "application/json"}
        if authenticated:
            if not self.token:
                raise SessionExpired()
            headers["Authorization"] = f"Bearer {self.token}"
        if if_match:
            headers["If-Match"] = if_match
        if method.upper() not in ("GET", "HEAD"):
            headers["Idempotency-Key"] = idempotency_key or new_idempotency_key()
        try:
            answer = await self.http.request(
                method, self.base_url + path, json=json, params=params, files=files, data=data, headers=headers
            )
        except httpx.TimeoutException as exc:
            self.log.record(self.service, path, 0)
            raise ServiceUnavailable(self.service, "timed out") from exc
        except httpx.HTTPError as exc:
            self.log.record(self.service, path, 0)
            raise ServiceUnavailable(self.service, type(exc).__name__) from exc
        self.log.record(self.service, path, answer.status_code)
        if answer.status_code >= 500:
            raise ServiceUnavailable(self.service, f"answered {answer.status_code}")
        if answer.status_code == 401 and authenticated:
            raise SessionExpired()
        if answer.status_code >= 400:
            raise self._error(answer)
        return answer

    def _error(self, answer: httpx.Response) -> ServiceError:
        try:
            body = answer.json()
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            return ServiceError(
                self.service,
                answer.status_code,
                str(err.get("code") or "error"),
                str(err.get("message") or ""),
                err.get("details"),
            )
        return ServiceError(self.service, answer.status_code, "error", answer.text[:200])

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        return (await self.request("GET", path, **kwargs)).json()

    async def post_json(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        answer = await self.request("POST", path, json=body, **kwargs)
        return answer.json() if answer.content else None
