"""Schemas every router shares: the error shape and limit/offset paging."""

from __future__ import annotations

from django.db.models import QuerySet
from ninja import Schema


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None


class PageMeta(Schema):
    total: int
    limit: int
    offset: int


def page(qs: QuerySet, *, limit: int, offset: int, render) -> dict:
    """One page of a queryset as {items, total, limit, offset}; `render` turns a row into its schema dict."""
    total = qs.count()
    return {"items": [render(row) for row in qs[offset: offset + limit]], "total": total, "limit": limit,
            "offset": offset}


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
