"""``offset``/``limit`` query parameters and the page they select."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.api.bounds import DbInt

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int


def page_params(
    offset: Annotated[DbInt, Query(description="Rows to skip.")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Rows to return, 1 to {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


Paging = Annotated[PageParams, Depends(page_params)]


def total_rows(db: Session, query: Select[Any]) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(db.scalar(counted) or 0)


def fetch_page(db: Session, query: Select[T], paging: PageParams) -> tuple[list[T], int]:
    """The rows of one page and the total number of rows the query matches."""
    rows = list(db.scalars(query.offset(paging.offset).limit(paging.limit)))
    return rows, total_rows(db, query)
