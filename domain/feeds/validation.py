"""Validation of one parsed feed row into a typed record, or the list of its problems.

A row is a mapping of field names to values as JSON Lines gives them (strings, integers,
lists) or as a CSV file gives them (strings only; an empty cell is an absent field). Every
problem names its field and says what is wrong without ever repeating the value: a feed row
holds personal data ("invalid phone number", never the number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.contacts.errors import ContactValueInvalid
from domain.contacts.model import (
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
    check_value,
    is_time_zone,
)
from domain.debts.model import ProductType
from domain.errors import MAX_REASON
from domain.feeds.records import (
    BorrowerRecord,
    ChargeOffRecord,
    ContactPointRecord,
    CostRecord,
    DebtRecord,
    Header,
    InstalmentRecord,
    LoanBookRecord,
    PaymentRecord,
    PaymentReversalRecord,
    Record,
    RecordType,
    RowError,
    Where,
)
from domain.money import MAX_AMOUNT
from domain.portfolios import PORTFOLIOS

T = TypeVar("T")
Row = Mapping[str, object]

MAX_SOURCE = 64
MAX_EXTERNAL_ID = 64
MAX_ACCOUNT = 32
MAX_REFERENCE = 64
MAX_DPD = 100_000
MAX_INSTALMENTS = 1_000
_CURRENCY = re.compile(r"[A-Z]{3}")
_NATIONAL_ID = re.compile(r"[0-9A-Za-z]{1,18}")
_CATEGORY = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_EMAIL_LIMIT = 200  # borrowers.email
_PLACES = Decimal("0.01")
# A plain decimal amount: digits, then at most two decimal places (no sign, exponent or spaces
# inside); checked before Decimal() ever sees the text ("1e40", "+5", "5." are refused).
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_KIND_PROBLEM = {
    ContactPointKind.PHONE: "invalid phone number",
    ContactPointKind.EMAIL: "invalid e-mail address",
    ContactPointKind.ADDRESS: "invalid address",
}


class _Fields:
    """Reads the fields of one row, collecting problems instead of stopping at the first."""

    def __init__(
        self,
        where: Where,
        row: Row,
        allowed: Iterable[str],
        prefix: str = "",
        *,
        top: bool = True,
        csv: bool = False,
    ) -> None:
        self.where = where
        self.row = row
        self.prefix = prefix
        self.csv = csv  # a CSV cell is text: a whole number may come as digits
        self.errors: list[RowError] = []
        known = set(allowed) | ({"type"} if top else set())
        for name in sorted(set(row) - known):
            self.error(name, "unknown field")

    def error(self, name: str, problem: str) -> None:
        self.errors.append(RowError(self.where, f"{self.prefix}{name}", problem))

    def _get(self, name: str, required: bool) -> object | None:
        value = self.row.get(name)
        if value is None or value == "":
            if required:
                self.error(name, "required")
            return None
        return value

    def text(self, name: str, limit: int, *, required: bool = True, problem: str = "") -> str:
        value = self._get(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.error(name, "must be a string")
            return ""
        text = value.strip()
        if not text and required:
            self.error(name, "required")
        elif len(text) > limit:
            self.error(name, problem or f"longer than {limit} characters")
        elif any(ord(ch) < 32 for ch in text):
            self.error(name, problem or "holds control characters")
        return text

    def amount(self, name: str, *, positive: bool = False, required: bool = True) -> Decimal:
        value = self._get(name, required)
        if value is None:
            return Decimal(0)
        if not isinstance(value, str):
            self.error(name, "must be a decimal string")
            return Decimal(0)
        text = value.strip()
        if text.startswith("-") and _AMOUNT.fullmatch(text[1:]):
            self.error(name, "must be above zero" if positive else "must not be negative")
            return Decimal(0)
        if not _AMOUNT.fullmatch(text):
            if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text):
                self.error(name, "more than 2 decimal places")
            else:
                self.error(name, "not a decimal amount")
            return Decimal(0)
        amount = Decimal(text)
        if positive and amount == 0:
            self.error(name, "must be above zero")
        elif amount >= MAX_AMOUNT:
            self.error(name, f"must be below {MAX_AMOUNT}")
        else:
            return amount.quantize(_PLACES)
        return Decimal(0)

    def day(self, name: str) -> date:
        value = self._get(name, True)
        if value is None:
            return date.min
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            self.error(name, "not an ISO-8601 date (YYYY-MM-DD)")
            return date.min

    def instant(self, name: str) -> datetime:
        value = self._get(name, True)
        fallback = datetime.min
        if value is None:
            return fallback
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.error(name, "not an ISO-8601 date and time")
            return fallback
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.error(name, "needs a time zone offset")
            return fallback
        return parsed

    def integer(self, name: str, low: int, high: int, *, required: bool = True) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if self.csv and isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, "must be a whole number")
            return None
        if not low <= value <= high:
            self.error(name, f"must be between {low} and {high}")
            return None
        return value

    def choice(self, name: str, values: Iterable[str], *, default: str | None = None) -> str:
        allowed = list(values)
        value = self._get(name, default is None)
        if value is None:
            return default or ""
        if value not in allowed:
            self.error(name, f"must be one of {', '.join(allowed)}")
            return ""
        return str(value)

    def currency(self, name: str = "currency") -> str:
        value = self.text(name, 3)
        if value and not _CURRENCY.fullmatch(value):
            self.error(name, "not an ISO-4217 currency code")
        return value

    def time_zone(self, name: str = "timeZone", *, required: bool = True) -> str | None:
        value = self.text(name, 64, required=required)
        if not value:
            return None
        if not is_time_zone(value):
            self.error(name, "not a known IANA time zone")
        return value

    def portfolio(self, currency: str) -> str:
        name = self.choice("portfolio", PORTFOLIOS)
        known = PORTFOLIOS.get(name)
        if known is not None and currency and currency != known.currency:
            self.error("currency", f"the portfolio {name} keeps {known.currency}")
        return name

    def result(self, build: Callable[[], T]) -> T | list[RowError]:
        return self.errors if self.errors else build()


def parse_header(where: Where, row: Row) -> Header | list[RowError]:
    """Returns the header (the first record), or its problems."""
    fields = _Fields(where, row, ("asOf", "source"))
    if row.get("type") != RecordType.HEADER:
        fields.error("type", "the first record must be the header")
    as_of = fields.day("asOf")
    source = fields.text("source", MAX_SOURCE)
    return fields.result(lambda: Header(where, as_of, source))


def _borrower(fields: _Fields) -> Callable[[], BorrowerRecord]:
    external_id = fields.text("externalId", MAX_EXTERNAL_ID)
    full_name = fields.text("fullName", 120)
    before = len(fields.errors)
    national_id = fields.text("nationalId", 18, problem="invalid national ID")
    if national_id and len(fields.errors) == before and not _NATIONAL_ID.fullmatch(national_id):
        fields.error("nationalId", "invalid national ID")
    phone = _contact_value(fields, "phone", ContactPointKind.PHONE, required=True)
    email = _contact_value(fields, "email", ContactPointKind.EMAIL, required=False)
    if len(email) > _EMAIL_LIMIT:
        fields.error("email", "invalid e-mail address")
    address = fields.text("address", 300, required=False, problem="invalid address")
    city = fields.text("city", 80, required=False)
    district = fields.text("district", 80, required=False)
    employer = fields.text("employer", 200, required=False, problem="invalid employer")
    income = fields.amount("income")
    currency = fields.currency()
    time_zone = fields.time_zone() or ""
    return lambda: BorrowerRecord(
        fields.where,
        external_id,
        full_name,
        national_id,
        phone,
        email,
        address,
        city,
        district,
        employer,
        income,
        currency,
        time_zone,
    )


def _contact_value(fields: _Fields, name: str, kind: ContactPointKind, *, required: bool) -> str:
    raw = fields.row.get(name)
    if raw is None or raw == "":
        if required:
            fields.error(name, "required")
        return ""
    if not isinstance(raw, str):
        fields.error(name, "must be a string")
        return ""
    try:
        return check_value(kind, raw)
    except ContactValueInvalid:
        fields.error(name, _KIND_PROBLEM[kind])
        return ""


def _contact_point(fields: _Fields) -> Callable[[], ContactPointRecord]:
    borrower = fields.text("borrowerExternalId", MAX_EXTERNAL_ID)
    kind = fields.choice("kind", ContactPointKind)
    value = _contact_value(fields, "value", ContactPointKind(kind), required=True) if kind else ""
    owner = fields.choice("owner", ContactParty)
    status = fields.choice("status", ContactPointStatus, default=ContactPointStatus.UNVERIFIED)
    time_zone = fields.time_zone(required=False)
    return lambda: ContactPointRecord(fields.where, borrower, kind, value, owner, status, time_zone)


_INSTALMENT_FIELDS = ("sequence", "dueDate", "amountDue", "amountPaid")


def parse_instalment(
    where: Where, row: Row, prefix: str = "", *, extra: Sequence[str] = (), csv: bool = False
) -> InstalmentRecord | list[RowError]:
    """Returns one instalment of a schedule (``extra``: the key columns of a CSV row, which
    may name its ``type``; an instalment inside a debt's JSON record may not)."""
    fields = _Fields(where, row, (*_INSTALMENT_FIELDS, *extra), prefix, top=csv, csv=csv)
    sequence = fields.integer("sequence", 1, MAX_INSTALMENTS)
    due = fields.day("dueDate")
    amount_due = fields.amount("amountDue")
    amount_paid = fields.amount("amountPaid", required=False)
    return fields.result(
        lambda: InstalmentRecord(where, sequence or 0, due, amount_due, amount_paid)
    )


def _debt(
    fields: _Fields, instalment_rows: Sequence[tuple[Where, Row]] | None
) -> Callable[[], DebtRecord]:
    account = fields.text("accountNumber", MAX_ACCOUNT)
    borrower = fields.text("borrowerExternalId", MAX_EXTERNAL_ID)
    currency = fields.currency()
    portfolio = fields.portfolio(currency)
    product = fields.choice("productType", ProductType)
    principal = fields.amount("principal")
    interest = fields.amount("interest")
    penalty = fields.amount("penalty")
    fee = fields.amount("fee")
    opened_on = fields.day("openedOn")
    dpd = fields.integer("daysPastDue", 0, MAX_DPD, required=False)
    schedule: list[InstalmentRecord] = []
    if instalment_rows is None:
        raw = fields.row.get("instalments")
        listed: list[Any] = []
        if raw is not None and not isinstance(raw, list):
            fields.error("instalments", "must be a list")
        elif raw is not None:
            listed = raw
        instalment_rows = []
        for index, item in enumerate(listed):
            prefix = f"instalments[{index}]."
            if not isinstance(item, Mapping):
                fields.error(f"instalments[{index}]", "must be an object")
                continue
            parsed = parse_instalment(fields.where, item, fields.prefix + prefix)
            if isinstance(parsed, list):
                fields.errors.extend(parsed)
            else:
                schedule.append(parsed)
    else:
        for where, item in instalment_rows:
            parsed = parse_instalment(where, item, extra=("accountNumber",), csv=True)
            if isinstance(parsed, list):
                fields.errors.extend(parsed)
            else:
                schedule.append(parsed)
    if len(schedule) > MAX_INSTALMENTS:
        fields.error("instalments", f"more than {MAX_INSTALMENTS} instalments")
    seen: set[int] = set()
    for instalment in schedule:
        if instalment.sequence in seen:
            fields.errors.append(
                RowError(instalment.where, "instalments.sequence", "sequence given twice")
            )
        seen.add(instalment.sequence)
    ordered = tuple(sorted(schedule, key=lambda i: i.sequence))
    return lambda: DebtRecord(
        fields.where,
        account,
        borrower,
        portfolio,
        product,
        currency,
        principal,
        interest,
        penalty,
        fee,
        opened_on,
        dpd,
        ordered,
    )


def _payment(fields: _Fields) -> Callable[[], PaymentRecord]:
    account = fields.text("accountNumber", MAX_ACCOUNT)
    reference = fields.text("reference", MAX_REFERENCE)
    amount = fields.amount("amount", positive=True)
    currency = fields.currency()
    paid_at = fields.instant("paidAt")
    return lambda: PaymentRecord(fields.where, account, reference, amount, currency, paid_at)


def _reversal(fields: _Fields) -> Callable[[], PaymentReversalRecord]:
    reference = fields.text("reference", MAX_REFERENCE)
    reason = fields.text("reason", MAX_REASON)
    return lambda: PaymentReversalRecord(fields.where, reference, reason)


def _charge_off(fields: _Fields) -> Callable[[], ChargeOffRecord]:
    account = fields.text("accountNumber", MAX_ACCOUNT)
    day = fields.day("date")
    amount = fields.amount("amount", positive=True)
    currency = fields.currency()
    return lambda: ChargeOffRecord(fields.where, account, day, amount, currency)


def _loan_book(fields: _Fields) -> Callable[[], LoanBookRecord]:
    day = fields.day("date")
    currency = fields.currency()
    portfolio = fields.portfolio(currency)
    product = fields.choice("productType", ProductType)
    principal = fields.amount("principal")
    return lambda: LoanBookRecord(fields.where, day, portfolio, product, currency, principal)


def _cost(fields: _Fields) -> Callable[[], CostRecord]:
    day = fields.day("date")
    currency = fields.currency()
    portfolio = fields.portfolio(currency)
    category = fields.text("category", 32)
    if category and not _CATEGORY.fullmatch(category):
        fields.error("category", "upper-case letters, digits and _ (e.g. CALL_CENTRE)")
    amount = fields.amount("amount")
    return lambda: CostRecord(fields.where, day, portfolio, category, currency, amount)


_FIELDS: Mapping[RecordType, tuple[str, ...]] = {
    RecordType.BORROWER: (
        "externalId",
        "fullName",
        "nationalId",
        "phone",
        "email",
        "address",
        "city",
        "district",
        "employer",
        "income",
        "currency",
        "timeZone",
    ),
    RecordType.CONTACT_POINT: (
        "borrowerExternalId",
        "kind",
        "value",
        "owner",
        "status",
        "timeZone",
    ),
    RecordType.DEBT: (
        "accountNumber",
        "borrowerExternalId",
        "portfolio",
        "productType",
        "currency",
        "principal",
        "interest",
        "penalty",
        "fee",
        "openedOn",
        "daysPastDue",
        "instalments",
    ),
    RecordType.PAYMENT: ("accountNumber", "reference", "amount", "currency", "paidAt"),
    RecordType.PAYMENT_REVERSAL: ("reference", "reason"),
    RecordType.CHARGE_OFF: ("accountNumber", "date", "amount", "currency"),
    RecordType.LOAN_BOOK: ("date", "portfolio", "productType", "currency", "principal"),
    RecordType.COST: ("date", "portfolio", "category", "amount", "currency"),
}

# The columns of each record type's CSV file (a debt's schedule is instalment.csv).
CSV_COLUMNS: Mapping[str, tuple[str, ...]] = {
    RecordType.HEADER.value: ("asOf", "source"),
    **{
        kind.value: tuple(f for f in names if f != "instalments") for kind, names in _FIELDS.items()
    },
    "instalment": ("accountNumber", *_INSTALMENT_FIELDS),
}


def parse_record(
    where: Where,
    row: Row,
    instalment_rows: Sequence[tuple[Where, Row]] | None = None,
    *,
    kind: RecordType | None = None,
) -> Record | list[RowError]:
    """Returns the typed record of a row (its ``type``, or ``kind`` for a CSV file), or every
    problem it has. ``instalment_rows``: a debt's schedule given apart (CSV), each with its own
    line."""
    declared = row.get("type")
    csv = kind is not None  # a CSV file names its record type; a JSON line declares it
    if kind is None:
        if not isinstance(declared, str) or declared not in set(RecordType):
            return [RowError(where, "type", f"must be one of {', '.join(_FIELDS)}")]
        kind = RecordType(declared)
    elif declared not in (None, "", kind.value):
        return [RowError(where, "type", f"must be {kind.value} in this file")]
    if kind is RecordType.HEADER:
        return [RowError(where, "type", "the header must be the first record, and only once")]
    allowed = _FIELDS[kind]
    if kind is RecordType.DEBT and instalment_rows is not None:
        allowed = tuple(f for f in allowed if f != "instalments")
    fields = _Fields(where, row, allowed, csv=csv)
    build: Callable[[], Record]
    if kind is RecordType.BORROWER:
        build = _borrower(fields)
    elif kind is RecordType.CONTACT_POINT:
        build = _contact_point(fields)
    elif kind is RecordType.DEBT:
        build = _debt(fields, instalment_rows)
    elif kind is RecordType.PAYMENT:
        build = _payment(fields)
    elif kind is RecordType.PAYMENT_REVERSAL:
        build = _reversal(fields)
    elif kind is RecordType.CHARGE_OFF:
        build = _charge_off(fields)
    elif kind is RecordType.LOAN_BOOK:
        build = _loan_book(fields)
    else:
        build = _cost(fields)
    return fields.result(build)


def key_of(record: Record) -> tuple[str, str, str] | None:
    """Returns the key a record may hold only once in a file: (type, key field, key), or None."""
    if isinstance(record, BorrowerRecord):
        return ("borrower", "externalId", record.external_id)
    if isinstance(record, ContactPointRecord):
        key = f"{record.borrower_external_id}\x00{record.kind}\x00{record.value}"
        return ("contactPoint", "value", key)
    if isinstance(record, DebtRecord):
        return ("debt", "accountNumber", record.account_number)
    if isinstance(record, PaymentRecord):
        return ("payment", "reference", record.reference)
    if isinstance(record, PaymentReversalRecord):
        return ("paymentReversal", "reference", record.reference)
    if isinstance(record, ChargeOffRecord):
        return ("chargeOff", "date", f"{record.account_number}\x00{record.date}")
    if isinstance(record, LoanBookRecord):
        key = f"{record.date}\x00{record.portfolio}\x00{record.product_type}\x00{record.currency}"
        return ("loanBook", "date", key)
    key = f"{record.date}\x00{record.portfolio}\x00{record.category}\x00{record.currency}"
    return ("cost", "category", key)


class FirstSeen:
    """Remembers each key a file has used (``key_of``) and refuses a second use, naming the
    first line; a borrower's national ID is unique in a file too."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Where] = {}

    def _claim(self, where: Where, kind: str, field: str, key: str) -> RowError | None:
        first = self._seen.setdefault((kind, key), where)
        if first is where:
            return None
        return RowError(where, field, f"given twice in the file (first at {first})")

    def check(self, record: Record) -> list[RowError]:
        found = []
        key = key_of(record)
        if key is not None:
            error = self._claim(record.where, *key)
            if error is not None:
                found.append(error)
        if isinstance(record, BorrowerRecord):
            error = self._claim(record.where, "nationalId", "nationalId", record.national_id)
            if error is not None:
                found.append(error)
        return found
