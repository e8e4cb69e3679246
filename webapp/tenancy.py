"""Tenant scoping: every query for account-owned rows goes through these helpers."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import BindParameter, ForeignKey, Integer, Select, bindparam, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from webapp.extensions import db


class TenantOwned:
    """Mixin for rows that belong to one account (tenant)."""

    @declared_attr
    def account_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr
        return mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)


T = TypeVar("T", bound=TenantOwned)


class NotFound(LookupError):
    """A tenant-owned row does not exist for this account (or belongs to another)."""


def scoped(model: type[T], account_id: int | BindParameter[int]) -> Select[T]:
    """A SELECT of `model` restricted to one account; the start of every tenant query."""
    if not issubclass(model, TenantOwned):
        raise TypeError(f"{model.__name__} is not tenant-owned")
    return select(model).where(model.account_id == account_id)  # type: ignore[attr-defined]


def scoped_prepared(model: type[T]) -> Select[T]:
    """`scoped` for a statement built once and run many times: the account is the bound
    parameter `account_id`, given with every execution."""
    return scoped(model, bindparam("account_id", type_=Integer))


def get_scoped(model: type[T], account_id: int, **filters: Any) -> T | None:
    """One row of `model` in this account matching `filters`, or None."""
    stmt = scoped(model, account_id).filter_by(**filters)
    return db.session.execute(stmt).scalars().first()


def get_scoped_or_raise(model: type[T], account_id: int, **filters: Any) -> T:
    """Like get_scoped, but raises NotFound; another account's row is indistinguishable."""
    row = get_scoped(model, account_id, **filters)
    if row is None:
        raise NotFound(model.__name__)
    return row
