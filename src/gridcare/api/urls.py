"""The JSON API at /api/v1/: one NinjaAPI, one router per domain, one error shape.

Every failure is rendered as `{code, message, field}`: expected domain errors with their own
4xx status, request validation as 422 naming the first bad field, unexpected errors as 500
after being logged once (their text never reaches the client).
"""

from __future__ import annotations

import importlib
import logging

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from gridcare.api.auth import API_AUTH
from gridcare.core.errors import GridcareError

logger = logging.getLogger("gridcare.api")

api = NinjaAPI(
    title="gridcare API",
    version="1",
    description="Electricity billing and customer service. Authenticate with `Authorization: Bearer <token>`.",
    auth=API_AUTH,
    docs_url="/docs",
    urls_namespace="api",
)

# (module, mount prefix, tag); every module must import — a missing router fails start-up, never a silent gap.
ROUTERS = [
    ("gridcare.api.customers", "/", "customers"),
    ("gridcare.api.rating", "/rating", "rating"),
    ("gridcare.api.metering", "/metering", "metering"),
    ("gridcare.api.billing", "/billing", "billing"),
    ("gridcare.api.payments", "/payments", "payments"),
    ("gridcare.api.collections", "/collections", "collections"),
    ("gridcare.api.reconciliation", "/reconciliation", "reconciliation"),
    ("gridcare.api.service", "/service", "service"),
    ("gridcare.api.assistant", "/assistant", "assistant"),
    ("gridcare.api.visits", "/visits", "visits"),
    ("gridcare.api.experience", "/experience", "experience"),
    ("gridcare.api.kpi", "/kpi", "kpi"),
    ("gridcare.api.parameters", "/parameters", "parameters"),
]

for _module, _prefix, _tag in ROUTERS:
    api.add_router(_prefix, importlib.import_module(_module).router, tags=[_tag])


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"code": code, "message": message, "field": field}


@api.exception_handler(GridcareError)
def _gridcare_error(request, exc: GridcareError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path", "payload", "form")]
    field = ".".join(loc) or None
    message = first.get("msg", "invalid input")
    return api.create_response(
        request, {**error_body("invalid", f"{field}: {message}" if field else message, field),
                  "errors": [{"field": ".".join(str(p) for p in e.get("loc", [])), "message": e.get("msg")}
                             for e in exc.errors[:20]]},
        status=422,
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return api.create_response(request, error_body("unauthenticated", "missing or invalid token"), status=401)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, error_body("not_found", str(exc) or "not found"), status=404)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return api.create_response(request, error_body("http_error", str(exc)), status=exc.status_code)


@api.exception_handler(Exception)
def _unexpected(request, exc: Exception):
    logger.exception("unexpected API error on %s %s", request.method, request.path)
    return api.create_response(request, error_body("server_error", "internal error; it has been logged"), status=500)
