"""The OpenAPI document every service serves, made true to what the API really answers.

FastAPI documents what a route declares; the plumbing every route shares it does not know. ``true_openapi``
adds it from the routes themselves (the bearer scheme, an "Authorize" button in ``/docs``, comes with the
principal dependency, ``oms_shared.auth.bearer_scheme``): the real error model
``{"error": {code, message, details}}`` instead of FastAPI's ``detail``,
and the statuses every route can answer — 401/403 with a token, 404 with ids, 409/413/422 on writes
(``Idempotency-Key`` too), 412/428 with ``If-Match``. Routes add their own with ``responses=`` (e.g.
``THROTTLED`` for 429) and say ``openapi_extra=IF_MATCH_REQUIRED`` where ``If-Match`` is always required.
Routes answer plain dicts; the main ones declare their answer's schema and an example with ``success``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

BEARER = "bearerAuth"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ERROR_REF = {"$ref": "#/components/schemas/Error"}

# Route declarations: ``openapi_extra=IF_MATCH_REQUIRED`` where a missing If-Match is refused with 428.
IF_MATCH_REQUIRED: dict[str, Any] = {"x-if-match-required": True}

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "type": "object",
        "description": "Every refusal, whatever its status: a stable machine-readable code and a message for people.",
        "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}},
        "example": {"error": {"code": "order_not_found", "message": "order 1b2c… does not exist"}},
    },
    "ErrorBody": {
        "title": "ErrorBody",
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "e.g. validation_error, stale_version, invalid_lines"},
            "message": {"type": "string"},
            "details": {
                "description": "Present when there is more to say; its shape depends on the kind of refusal.",
                "oneOf": [
                    {"$ref": "#/components/schemas/FieldErrors"},
                    {"$ref": "#/components/schemas/RowErrors"},
                    {"$ref": "#/components/schemas/LineErrors"},
                    {"$ref": "#/components/schemas/ErrorFacts"},
                ],
            },
        },
    },
    "FieldErrors": {
        "title": "FieldErrors",
        "description": "validation_error and the other refusals of a field's value (date_in_past, …): one per field.",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["field", "reason"],
            "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
        },
        "example": [{"field": "lines.0.warehouse_id", "reason": "Input should be a valid UUID"}],
    },
    "RowErrors": {
        "title": "RowErrors",
        "description": "Uploads (CSV, .xlsx, JSON rows): every refused row; one bad row applies nothing.",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["row", "field", "code", "message"],
            "properties": {
                "row": {"type": "integer"},
                "field": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
        },
    },
    "LineErrors": {
        "title": "LineErrors",
        "description": "invalid_lines: each refused order line (its index, or its sheet row when imported), "
        "with every reason.",
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "line": {"type": ["integer", "null"]},
                "row": {"type": ["integer", "null"]},
                "sku": {"type": "string"},
                "reasons": {"type": "array", "items": {"type": "string"}},
            },
        },
        "example": [{"row": 4, "sku": "NUT-M8", "reasons": ["quantity 'ten' is not a number"]}],
    },
    "ErrorFacts": {
        "title": "ErrorFacts",
        "description": "Facts about one refusal, e.g. current_version (412), max_bytes (413), retry_after_s (429).",
        "type": "object",
        "additionalProperties": True,
    },
}

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("The request cannot be taken as it is: its code says why (e.g. an unknown or used link).", "bad_request"),
    401: ("No valid bearer token: missing_token, invalid_token, token_expired, session_ended.", "missing_token"),
    403: ("Signed in, but the caller's side or access level may not do this.", "access_denied"),
    404: ("Not found, or not visible to the caller (another account's looks exactly the same).", "not_found"),
    409: (
        "Conflicts with the current state (e.g. a status that does not allow it), or a request with the same "
        "Idempotency-Key is still running (request_in_progress, Retry-After).",
        "conflict",
    ),
    412: (
        "If-Match names an older version (stale_version); details.current_version is the current one.",
        "stale_version",
    ),
    413: ("The body is larger than this route allows (body_too_large); details.max_bytes.", "body_too_large"),
    422: (
        "The request is not valid: validation_error with details per field, or the code of the rule it breaks.",
        "validation_error",
    ),
    428: ("If-Match is required here: send the version you saw (if_match_required).", "if_match_required"),
    429: ("Too many attempts (too_many_attempts): wait the Retry-After seconds.", "too_many_attempts"),
    503: ("A store this answer needs does not answer now (document_store_unavailable): try again.", "unavailable"),
}

# Route declarations: ``openapi_extra=ERP_OR_BEARER`` on routes the ERP calls with its exchange login (HTTP
# Basic) and people with their token (ADR 012); their credential dependency is the service's own.
ERP_BASIC = "erpBasic"
ERP_OR_BEARER: dict[str, Any] = {"security": [{ERP_BASIC: []}, {BEARER: []}]}
SECURITY_SCHEMES: dict[str, Any] = {
    ERP_BASIC: {
        "type": "http",
        "scheme": "basic",
        "description": "The ERP's exchange login and password (PUT /api/v1/erp/connection of erp-bridge).",
    }
}

# Route declarations: ``responses=THROTTLED`` on routes a throttle guards.
THROTTLED: dict[int | str, dict[str, Any]] = {429: {"description": _ERRORS[429][0]}}

# Route declarations: ``responses=UNAVAILABLE`` on routes that need a store that may not answer (503).
UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"description": _ERRORS[503][0]}}


def error_response(status: int) -> dict[str, Any]:
    description, code = _ERRORS[status]
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ERROR_REF, "example": {"error": {"code": code, "message": "…"}}}},
    }
    if status in (409, 429):
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
    return response


# Success answers: routes return plain dicts (no ``response_model``, which would filter and validate the real
# answers), so a route declares its answer's shape and an example with ``responses=success(...)``.
STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
DECIMAL: dict[str, Any] = {"type": "string", "format": "decimal", "description": "a decimal number as text"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
DATETIME: dict[str, Any] = {"type": "string", "format": "date-time"}
EXAMPLE_TEXT = "x-example-json"


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(properties: dict[str, dict[str, Any]], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with these properties, all present in every answer but ``optional``."""
    return {"type": "object", "properties": properties, "required": [k for k in properties if k not in optional]}


def success(description: str, schema: dict[str, Any], example: Any, status: int = 200) -> dict[int | str, Any]:
    """``responses=`` for a route's success answer: its schema and an example, the answer itself untouched."""
    # FastAPI drops the nulls of an example (it encodes the document with exclude_none); the example travels
    # as text too and ``true_openapi`` puts it back whole: it shows every property of the real answer.
    media = {"schema": schema, "example": example, EXAMPLE_TEXT: json.dumps(example, ensure_ascii=False)}
    return {status: {"description": description, "content": {"application/json": media}}}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    params = operation.get("parameters", [])
    has_body = "requestBody" in operation
    secured = any(requirement for requirement in operation.get("security", []))
    statuses: set[int] = set()
    if secured:
        statuses |= {401, 403}
    names_a_thing = any(p.get("in") == "path" or p.get("name", "").endswith("_id") for p in params)
    if names_a_thing or (secured and has_body):  # an id that names nothing (or another account's) is a 404
        statuses.add(404)
    if method in WRITES:
        statuses |= {409, 413, 422}
    if params or has_body:
        statuses.add(422)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in params):
        statuses |= {412, 428}
    return statuses


def _normal_tag(tag: str) -> str:
    return tag.replace("-", " ").replace("_", " ").lower()


def true_openapi(app: FastAPI, *, service: str, description: str = "") -> dict[str, Any]:
    """The app's OpenAPI document with its security, error model and every status its routes answer."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes, description=description or None)
    doc["info"]["title"] = f"OMS {service} API"
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    tags: set[str] = set()
    for operations in doc.get("paths", {}).values():
        for method_lower, operation in operations.items():
            method = method_lower.upper()
            operation["tags"] = [_normal_tag(t) for t in operation.get("tags", [])]
            tags.update(operation["tags"])
            required_if_match = bool(operation.pop("x-if-match-required", False))
            params = operation.setdefault("parameters", [])
            for param in params:
                if param.get("in") == "header" and param.get("name", "").lower() == "if-match":
                    param["required"] = required_if_match
                    param["description"] = (
                        'The version of the resource you saw (its ETag, e.g. "3"): a newer one answers 412'
                        + ("; without it 428." if required_if_match else "; required on some sides (428).")
                    )
            if method in WRITES and not any(p.get("name", "").lower() == "idempotency-key" for p in params):
                params.append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": "A retry with the same key gets the first answer; the change happens once.",
                    }
                )
            if not params:
                operation.pop("parameters")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = media.get("schema", {})
                if "$ref" in schema and "properties" in schema:  # the route's own schema replaces the model's
                    schema.pop("$ref")
            for requirement in operation.get("security", []):
                for scheme in requirement:
                    if scheme in SECURITY_SCHEMES:
                        components.setdefault("securitySchemes", {})[scheme] = SECURITY_SCHEMES[scheme]
            statuses = _statuses(method, operation)
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                media = response.get("content", {}).get("application/json", {})
                if EXAMPLE_TEXT in media:
                    media["example"] = json.loads(media.pop(EXAMPLE_TEXT))
                schema = media.get("schema", {})
                if status.startswith("2") and "properties" in schema:  # ``success``: the route's own schema wins
                    for generated in ("title", "additionalProperties"):  # over its ``dict[str, Any]`` annotation's
                        schema.pop(generated, None)
            for status in sorted(statuses | {int(s) for s in responses if s.isdigit() and int(s) in _ERRORS}):
                declared = responses.get(str(status), {}).get("description", "")
                responses[str(status)] = error_response(status)
                if declared and declared != "Validation Error":  # a route's own words on this status win
                    responses[str(status)]["description"] = declared
    doc["tags"] = [{"name": t} for t in sorted(tags)]
    app.openapi_schema = doc
    return doc


def install_openapi(app: FastAPI, *, service: str, description: str = "") -> None:
    """Serve ``true_openapi`` at /openapi.json (and so in /docs)."""

    def openapi() -> dict[str, Any]:
        return true_openapi(app, service=service, description=description)

    app.openapi = openapi  # type: ignore[method-assign]
