"""Validation of one feed row (domain.feeds): every field to its boundary, problems by field,
never the value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.feeds.records import (
    BorrowerRecord,
    DebtRecord,
    InstalmentRecord,
    PaymentRecord,
    RecordType,
    RowError,
    Where,
    days_past_due,
    schedule_days_past_due,
)
from domain.feeds.validation import FirstSeen, parse_header, parse_record

HERE = Where("feed.jsonl", 7)
AS_OF = date(2026, 11, 27)
PHONE = "+86 139 0000 1001"
NATIONAL_ID = "11010519491231002X"


def borrower(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "borrower",
        "externalId": "B-1",
        "fullName": "示例借款人",
        "nationalId": NATIONAL_ID,
        "phone": PHONE,
        "email": "a@example.com",
        "address": "北京市朝阳区示例路1号",
        "city": "北京市",
        "district": "朝阳区",
        "employer": "示例科技",
        "income": "12000.00",
        "currency": "CNY",
        "timeZone": "Asia/Shanghai",
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def debt(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "debt",
        "accountNumber": "CL-1",
        "borrowerExternalId": "B-1",
        "portfolio": "retail",
        "productType": "CONSUMER_LOAN",
        "currency": "CNY",
        "principal": "1000.00",
        "interest": "10.00",
        "penalty": "0.00",
        "fee": "0",
        "openedOn": "2026-01-05",
        "instalments": [
            {"sequence": 1, "dueDate": "2026-10-27", "amountDue": "100.00", "amountPaid": "100.00"},
            {"sequence": 2, "dueDate": "2026-11-26", "amountDue": "100.00"},
        ],
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def problems(result: object) -> list[tuple[str, str]]:
    assert isinstance(result, list), result
    return [(e.field, e.problem) for e in result]


def test_a_valid_borrower_is_typed_with_its_phone_normalised() -> None:
    record = parse_record(HERE, borrower())
    assert isinstance(record, BorrowerRecord)
    assert record.phone == "+8613900001001"
    assert record.income == Decimal("12000.00")
    assert record.where == HERE


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"phone": "call me"}, [("phone", "invalid phone number")]),
        ({"nationalId": "11010519491231002X-"}, [("nationalId", "invalid national ID")]),
        ({"nationalId": "1101051949123100200"}, [("nationalId", "invalid national ID")]),
        ({"email": "not-an-address"}, [("email", "invalid e-mail address")]),
        ({"income": "1.001"}, [("income", "more than 2 decimal places")]),
        ({"income": "-1.00"}, [("income", "must not be negative")]),
        ({"income": 1200}, [("income", "must be a decimal string")]),
        ({"income": "1e400x"}, [("income", "not a decimal amount")]),
        ({"income": "1000000000000000"}, [("income", "must be below 1000000000000000")]),
        ({"timeZone": "Mars/Base"}, [("timeZone", "not a known IANA time zone")]),
        ({"currency": "cny"}, [("currency", "not an ISO-4217 currency code")]),
        ({"externalId": None}, [("externalId", "required")]),
        ({"nickname": "x"}, [("nickname", "unknown field")]),
    ],
)
def test_a_bad_borrower_field_is_named_without_its_value(
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    result = parse_record(HERE, borrower(**changes))
    assert problems(result) == expected
    for value in changes.values():
        said = " ".join(problem for _field, problem in expected)
        if isinstance(value, str) and len(value) > 3 and value not in said:
            assert all(value not in str(e) for e in result)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("income", "problem"),
    [
        ("1e40", "not a decimal amount"),
        ("1e2", "not a decimal amount"),
        ("1E+2", "not a decimal amount"),
        ("+5", "not a decimal amount"),
        ("5.", "not a decimal amount"),
        (".5", "not a decimal amount"),
        ("1 000", "not a decimal amount"),
        ("NaN", "not a decimal amount"),
        ("Infinity", "not a decimal amount"),
        ("-0.01", "must not be negative"),
        ("0.001", "more than 2 decimal places"),
        ("5", None),
        ("5.1", None),
        ("0.00", None),
        (" 5.10 ", None),
    ],
)
def test_only_a_plain_decimal_is_an_amount(income: str, problem: str | None) -> None:
    result = parse_record(HERE, borrower(income=income))
    if problem is None:
        assert isinstance(result, BorrowerRecord)
        assert result.income == Decimal(income.strip())
    else:
        assert problems(result) == [("income", problem)]


def test_a_whole_number_as_digits_is_accepted_only_from_csv() -> None:
    assert isinstance(parse_record(HERE, debt(daysPastDue="31"), kind=RecordType.DEBT), DebtRecord)
    as_json = parse_record(HERE, debt(daysPastDue="31"))
    assert problems(as_json) == [("daysPastDue", "must be a whole number")]


def test_the_largest_amount_below_the_limit_and_two_places_are_accepted() -> None:
    record = parse_record(HERE, borrower(income="999999999999999.99"))
    assert isinstance(record, BorrowerRecord)


def test_a_debt_takes_the_core_dpd_else_the_schedule() -> None:
    record = parse_record(HERE, debt())
    assert isinstance(record, DebtRecord)
    # The second instalment fell due yesterday and is unpaid: DPD 1.
    assert days_past_due(record, AS_OF) == 1
    assert days_past_due(record, date(2026, 11, 26)) == 0  # due today is not yet late
    cored = parse_record(HERE, debt(daysPastDue=40))
    assert isinstance(cored, DebtRecord)
    assert days_past_due(cored, AS_OF) == 40


def test_schedule_dpd_ignores_paid_and_future_instalments() -> None:
    paid = InstalmentRecord(HERE, 1, date(2026, 1, 1), Decimal(100), Decimal(100))
    future = InstalmentRecord(HERE, 2, date(2026, 12, 1), Decimal(100), Decimal(0))
    assert schedule_days_past_due((paid, future), AS_OF) == 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"portfolio": "wholesale"}, [("portfolio", "must be one of retail, us-cards")]),
        ({"currency": "USD"}, [("currency", "the portfolio retail keeps CNY")]),
        (
            {"productType": "LEASE"},
            [("productType", "must be one of CREDIT_CARD, CONSUMER_LOAN, MORTGAGE, AUTO_LOAN")],
        ),
        ({"openedOn": "2026-13-01"}, [("openedOn", "not an ISO-8601 date (YYYY-MM-DD)")]),
        ({"daysPastDue": -1}, [("daysPastDue", "must be between 0 and 100000")]),
        ({"daysPastDue": "31"}, [("daysPastDue", "must be a whole number")]),  # JSON: a number
        (
            {
                "instalments": [
                    {
                        "sequence": 1,
                        "dueDate": "2026-01-01",
                        "amountDue": "1.00",
                        "type": "instalment",
                    }
                ]
            },
            [("instalments[0].type", "unknown field")],
        ),
        ({"daysPastDue": 1.5}, [("daysPastDue", "must be a whole number")]),
        ({"daysPastDue": 0}, []),
        ({"daysPastDue": 100_000}, []),
        ({"daysPastDue": 100_001}, [("daysPastDue", "must be between 0 and 100000")]),
        (
            {"instalments": [{"sequence": 1, "dueDate": "2026-01-01", "amountDue": "1.001"}]},
            [("instalments[0].amountDue", "more than 2 decimal places")],
        ),
        (
            {
                "instalments": [
                    {"sequence": 1, "dueDate": "2026-01-01", "amountDue": "1.00"},
                    {"sequence": 1, "dueDate": "2026-02-01", "amountDue": "1.00"},
                ]
            },
            [("instalments.sequence", "sequence given twice")],
        ),
        ({"instalments": {"sequence": 1}}, [("instalments", "must be a list")]),
    ],
)
def test_debt_fields_to_their_boundaries(
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    result = parse_record(HERE, debt(**changes))
    if expected:
        assert problems(result) == expected
    else:
        assert isinstance(result, DebtRecord)


def test_a_payment_needs_a_positive_amount_and_an_offset() -> None:
    row = {
        "type": "payment",
        "accountNumber": "CL-1",
        "reference": "TX-1",
        "amount": "0.00",
        "currency": "CNY",
        "paidAt": "2026-11-27T10:15:00",
    }
    assert problems(parse_record(HERE, row)) == [
        ("amount", "must be above zero"),
        ("paidAt", "needs a time zone offset"),
    ]
    row.update(amount="0.01", paidAt="2026-11-27T10:15:00+08:00")
    assert isinstance(parse_record(HERE, row), PaymentRecord)


def test_unknown_types_and_a_late_header_are_refused() -> None:
    assert problems(parse_record(HERE, {"type": "loan"}))[0][0] == "type"
    assert problems(parse_record(HERE, {"type": "header", "asOf": "2026-11-27"})) == [
        ("type", "the header must be the first record, and only once")
    ]


def test_the_header_needs_its_date_and_source() -> None:
    assert problems(parse_header(HERE, {"type": "header", "asOf": "27/11/2026"})) == [
        ("asOf", "not an ISO-8601 date (YYYY-MM-DD)"),
        ("source", "required"),
    ]
    assert problems(parse_header(HERE, {"type": "borrower"}))[0] == (
        "type",
        "the first record must be the header",
    )


def test_a_key_given_twice_in_a_file_names_the_first_line() -> None:
    seen = FirstSeen()
    first = parse_record(Where("f", 2), borrower())
    again = parse_record(Where("f", 9), borrower(externalId="B-2"))
    assert isinstance(first, BorrowerRecord) and isinstance(again, BorrowerRecord)
    assert seen.check(first) == []
    assert seen.check(again) == [
        RowError(Where("f", 9), "nationalId", "given twice in the file (first at f:2)")
    ]
