"""Column types that keep money exact on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

_SCALE = 2
_FACTOR = Decimal(10) ** _SCALE
_QUANTUM = Decimal(1).scaleb(-_SCALE)


class Amount(TypeDecorator[Decimal]):
    """A Decimal with two places: NUMERIC(18, 2) where the database has exact decimals,
    integer minor units on SQLite (whose NUMERIC is a float and would lose cents)."""

    impl = Numeric(18, _SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, _SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts must be Decimal, never float")
        value = Decimal(value)
        if value != value.quantize(_QUANTUM):
            raise ValueError(f"amount {value} has more than {_SCALE} decimal places")
        if dialect.name == "sqlite":
            return int(value * _FACTOR)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-_SCALE)
        amount = value if isinstance(value, Decimal) else Decimal(value)
        return amount if amount.as_tuple().exponent == -_SCALE else amount.quantize(_QUANTUM)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on every backend (SQLite keeps no zone, so it is restored on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
