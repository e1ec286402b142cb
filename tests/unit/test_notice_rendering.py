"""Rendering notices: a rendered notice for a borrower matches a hand-written expected text, every
variable is formatted for the notice's language, and the sandbox holds even for a text that
never went through the checks."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.contacts.model import ContactChannel
from domain.money import Money
from domain.notices.errors import NoTemplateText, TemplateNotRenderable
from domain.notices.model import NoticeRule, Template, TemplatePurpose, TemplateText
from domain.notices.rendering import (
    NoticeContext,
    digest_of,
    format_date,
    format_money,
    render,
    variables,
)
from domain.notices.templates import DEFAULT_TEMPLATES, VARIABLES


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


ZH = NoticeContext(
    borrower_name="张伟",
    case_reference="AR-000042",
    lender_name="示范消费金融有限公司",
    hotline="400-800-1234",
    collector_name="李娜",
    collector_id="C0107",
    agency_name=None,
    amount_due=cny("12345.6"),
    days_past_due=35,
    as_of=date(2026, 11, 29),
    account_number="****4321",
    itemization_date=date(2026, 10, 25),
    itemization_amount=cny("12000"),
    interest_since=cny("300.60"),
    fees_since=cny("45"),
    payments_since=cny("0"),
    dispute_deadline=date(2026, 12, 29),
    language="zh",
    channel=ContactChannel.SMS,
)
EN = NoticeContext(
    borrower_name="Jane Doe",
    case_reference="AR-000117",
    lender_name="Demo Card Services, N.A.",
    hotline="1-800-555-0199",
    collector_name="Sam Lee",
    collector_id="U2041",
    agency_name=None,
    amount_due=usd("1234.5"),
    days_past_due=47,
    as_of=date(2026, 11, 29),
    account_number="****9876",
    itemization_date=date(2026, 9, 15),
    itemization_amount=usd("1200"),
    interest_since=usd("30.50"),
    fees_since=usd("25"),
    payments_since=usd("21"),
    dispute_deadline=date(2027, 1, 8),
    language="en",
    channel=ContactChannel.LETTER,
)


# ---- The hand-written expected texts ------------------------------------------------------------


def test_the_chinese_payment_reminder_for_a_borrower_reads_as_written() -> None:
    rendered = render(DEFAULT_TEMPLATES["PAYMENT_REMINDER"], ZH)
    assert rendered.subject is None
    assert rendered.body == (
        "【示范消费金融有限公司】张伟您好，您的借款（账号****4321）已逾期35天，"
        "截至2026年11月29日应还金额12,345.60元。请尽快还款；如还款确有困难，"
        "请致电400-800-1234与我们协商。催收专员：李娜（工号C0107）。回复TD退订"
    )
    assert rendered.digest == hashlib.sha256(rendered.body.encode()).hexdigest()


def test_the_us_validation_notice_for_a_borrower_reads_as_written() -> None:
    rendered = render(DEFAULT_TEMPLATES["VALIDATION_NOTICE"], EN)
    assert rendered.subject == "Notice of debt (AR-000117)"
    assert rendered.body == (
        """\
Sam Lee is a debt collector. We are trying to collect a debt that you owe to Demo Card \
Services, N.A., your creditor. We will use any information you give us to help collect the debt.

Our information shows:
You had an account from Demo Card Services, N.A. with account number ****9876.
As of September 15, 2026, you owed: $1,200.00
Between September 15, 2026 and today:
  You were charged this amount in interest: + $30.50
  You were charged this amount in fees: + $25.00
  You paid or were credited this amount toward the debt: - $21.00
Total amount of the debt now: $1,234.50

How can you dispute the debt?
Call or write to us by January 8, 2027 to dispute all or part of the debt. If you do not, we \
will assume that our information is correct. If you write to us by January 8, 2027, we must \
stop collection on any amount you dispute until we send you information that shows you owe \
the debt. Our number is 1-800-555-0199.

What else can you do?
Write to ask for the name and address of the original creditor, if different from the current \
creditor. If you write by January 8, 2027, we must stop collection until we send you that \
information.
Go to www.cfpb.gov/debt-collection to learn more about your rights under federal law.
Contact us about your payment options: call 1-800-555-0199.
Póngase en contacto con nosotros para solicitar una copia de este formulario en español.

Notice for: Jane Doe
"""
    )
    assert rendered.digest == digest_of(rendered.subject, rendered.body)
    assert rendered.digest == (
        hashlib.sha256(f"{rendered.subject}\n{rendered.body}".encode()).hexdigest()
    )


def test_an_agency_collecting_is_named_with_the_lender_it_acts_for() -> None:
    letter = DEFAULT_TEMPLATES["DEMAND_LETTER"]
    placed = replace(ZH, channel=ContactChannel.LETTER, agency_name="诚信催收服务有限公司")
    body = render(letter, placed).body
    assert "诚信催收服务有限公司（受示范消费金融有限公司委托）\n经办人：李娜（工号C0107）\n" in body
    own = render(letter, replace(placed, agency_name=None)).body
    assert "\n示范消费金融有限公司\n经办人：李娜（工号C0107）\n" in own
    assert "委托" not in own


@pytest.mark.parametrize("name", list(DEFAULT_TEMPLATES))
def test_every_checked_in_text_renders_in_each_of_its_languages(name: str) -> None:
    template = DEFAULT_TEMPLATES[name]
    for language in template.texts:
        base = ZH if language == "zh" else EN
        rendered = render(template, replace(base, channel=template.channel))
        assert (rendered.subject is None) == (template.channel == ContactChannel.SMS)
        assert "{{" not in rendered.body and "{%" not in rendered.body
        assert base.lender_name in rendered.body and base.collector_name in rendered.body


# ---- Formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "language", "shown"),
    [
        (cny("1234.56"), "zh", "1,234.56元"),
        (cny("1234567.5"), "zh", "1,234,567.50元"),
        (cny("0"), "zh", "0.00元"),
        (cny("999.995"), "zh", "1,000.00元"),
        (cny("0.125"), "zh", "0.12元"),  # half to even
        (cny("-12.3"), "zh", "-12.30元"),
        (usd("1234.56"), "zh", "1,234.56美元"),
        (Money(Decimal("1500"), "JPY"), "zh", "1,500日元"),
        (Money(Decimal("10"), "GBP"), "zh", "GBP 10.00"),
        (usd("1234.56"), "en", "$1,234.56"),
        (usd("-5"), "en", "-$5.00"),
        (cny("1234.56"), "en", "CNY 1,234.56"),
        (Money(Decimal("1500.4"), "JPY"), "en", "JPY 1,500"),
    ],
)
def test_money_is_written_as_the_language_writes_it(
    money: Money, language: str, shown: str
) -> None:
    assert format_money(money, language) == shown


@pytest.mark.parametrize(
    ("day", "language", "shown"),
    [
        (date(2026, 11, 29), "zh", "2026年11月29日"),
        (date(2027, 1, 8), "zh", "2027年1月8日"),
        (date(2026, 11, 29), "en", "November 29, 2026"),
        (date(2027, 1, 8), "en", "January 8, 2027"),
    ],
)
def test_dates_are_written_as_the_language_writes_them(
    day: date, language: str, shown: str
) -> None:
    assert format_date(day, language) == shown


def test_every_catalogue_variable_is_given_as_text() -> None:
    given = variables(ZH)
    assert list(given) == list(VARIABLES)
    assert all(isinstance(value, str) for value in given.values())
    assert given["agency_name"] == ""
    assert given["days_past_due"] == "35"
    assert given["dispute_instructions"] == "如有异议，请于2026年12月29日前致电400-800-1234。"
    assert variables(replace(ZH, agency_name="诚信催收"))["agency_name"] == "诚信催收"


@pytest.mark.parametrize(
    ("language", "channel", "words"),
    [
        ("zh", ContactChannel.SMS, "回复TD退订"),
        ("zh", ContactChannel.EMAIL, "如不希望继续收到此类邮件，请回复“退订”。"),
        ("zh", ContactChannel.LETTER, "如不希望继续收到此类信函，请致电400-800-1234告知。"),
        ("en", ContactChannel.SMS, "Reply STOP to stop texts."),
        (
            "en",
            ContactChannel.EMAIL,
            "To stop e-mails from us, reply to this e-mail with the word STOP.",
        ),
        (
            "en",
            ContactChannel.LETTER,
            "If you want us to stop contacting you by mail, tell us in writing.",
        ),
    ],
)
def test_opt_out_instructions_are_the_standard_words_of_the_language_and_channel(
    language: str, channel: ContactChannel, words: str
) -> None:
    context = replace(ZH, language=language, channel=channel)
    assert variables(context)["opt_out_instructions"] == words


def test_an_sms_gives_the_short_dispute_instructions() -> None:
    sms = replace(EN, channel=ContactChannel.SMS)
    assert variables(sms)["dispute_instructions"] == (
        "To dispute the debt, call 1-800-555-0199 by January 8, 2027."
    )


def test_a_language_without_wording_is_refused() -> None:
    with pytest.raises(ValueError, match="'fr'"):
        variables(replace(ZH, language="fr"))


# ---- What cannot be rendered --------------------------------------------------------------------


def test_a_template_without_a_text_in_the_language_cannot_render() -> None:
    with pytest.raises(NoTemplateText) as caught:
        render(DEFAULT_TEMPLATES["VALIDATION_NOTICE"], replace(EN, language="zh"))
    assert caught.value.rule == NoticeRule.NO_APPROVED_TEMPLATE
    assert (caught.value.template, caught.value.language) == ("VALIDATION_NOTICE", "zh")
    assert isinstance(caught.value, TemplateNotRenderable)


def test_a_context_of_another_channel_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="SMS template"):
        render(DEFAULT_TEMPLATES["PAYMENT_REMINDER"], replace(ZH, channel=ContactChannel.EMAIL))


def _unchecked(body: str) -> Template:
    """A template built in code, never through template_from_payload's checks."""
    return Template(
        "UNCHECKED",
        "1",
        ContactChannel.SMS,
        TemplatePurpose.REMINDER,
        frozenset({"CN"}),
        {"zh": TemplateText(body)},
    )


@pytest.mark.parametrize(
    "body",
    [
        "{{ borrower_name.__class__.__mro__ }}",
        "{{ borrower_name.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ borrower_name.format.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ balance }}",
    ],
)
def test_the_sandbox_holds_for_a_text_that_skipped_the_checks(body: str) -> None:
    with pytest.raises(TemplateNotRenderable) as caught:
        render(_unchecked(body), ZH)
    assert caught.value.rule == NoticeRule.NO_APPROVED_TEMPLATE


def test_a_text_cannot_change_what_it_is_given() -> None:
    immutable = "{{ borrower_name }}{% set _ = lender_name %}{{ [].append(1) }}"
    with pytest.raises(TemplateNotRenderable):
        render(_unchecked(immutable), ZH)
