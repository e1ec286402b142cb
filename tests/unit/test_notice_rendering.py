"""Rendering notices: a rendered notice for a borrower matches a hand-written expected text, every
variable is formatted for the notice's language, a reminder says what is overdue (or what falls
due next) rather than the whole balance, what a text renders to is bounded, and the sandbox holds
even for a text that never went through the checks — whatever it fails with, the outbox gets
TemplateNotRenderable."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.contacts.model import ContactChannel
from domain.money import Money
from domain.notices.errors import NoTemplateText, TemplateNotRenderable
from domain.notices.model import Template, TemplatePurpose, TemplateText
from domain.notices.rendering import (
    MAX_BODY_RENDERED,
    MAX_SMS_RENDERED,
    MAX_SUBJECT_RENDERED,
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
    borrower_address="北京市朝阳区示范街8号3单元502室",
    case_reference="AR-000042",
    lender_name="示范消费金融有限公司",
    hotline="400-800-1234",
    collector_name="李娜",
    collector_id="C0107",
    collector_address="上海市浦东新区示范路1号示范金融大厦20层（邮编200120）",
    agency_name=None,
    amount_due=cny("2345.6"),
    balance=cny("12345.6"),
    next_due_date=date(2026, 12, 15),
    next_instalment_amount=cny("1172.8"),
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
    borrower_address="42 Elm Street, Apt 3B, Springfield, IL 62704",
    case_reference="AR-000117",
    lender_name="Demo Card Services, N.A.",
    hotline="1-800-555-0199",
    collector_name="Sam Lee",
    collector_id="U2041",
    collector_address="1 Example Plaza, Suite 100, Wilmington, DE 19801",
    agency_name=None,
    amount_due=usd("234.5"),
    balance=usd("1234.5"),
    next_due_date=date(2026, 12, 15),
    next_instalment_amount=usd("117.25"),
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
        "截至2026年11月29日逾期金额2,345.60元。请尽快还款；如还款确有困难，"
        "请致电400-800-1234与我们协商。催收专员：李娜（工号C0107）。回复TD退订"
    )
    assert rendered.digest == hashlib.sha256(rendered.body.encode()).hexdigest()


def test_the_us_payment_reminder_says_what_is_overdue_and_that_a_debt_collector_sends_it() -> None:
    rendered = render(
        DEFAULT_TEMPLATES["PAYMENT_REMINDER"], replace(EN, channel=ContactChannel.SMS)
    )
    assert rendered.body == (
        "Demo Card Services, N.A.: Jane Doe, your account ****9876 is 47 days past due: $234.50 "
        "is overdue as of November 29, 2026. Please pay, or call 1-800-555-0199 to talk about "
        "your options. Sam Lee (ID U2041). This is a communication from a debt collector. "
        "Reply STOP to stop texts."
    )
    assert "$1,234.50" not in rendered.body  # the balance is not what is overdue


def test_a_pre_due_reminder_names_the_next_instalment_not_the_balance() -> None:
    reminder = DEFAULT_TEMPLATES["PRE_DUE_REMINDER"]
    zh = render(reminder, ZH)
    assert zh.body == (
        "【示范消费金融有限公司】张伟您好，您的借款（账号****4321）下一期应还1,172.80元，"
        "还款日为2026年12月15日，请留意按时还款。如已还款，请忽略本短信；如有疑问，请致电"
        "400-800-1234。服务专员：李娜（工号C0107）。回复TD退订"
    )
    en = render(reminder, replace(EN, channel=ContactChannel.SMS))
    assert en.body == (
        "Demo Card Services, N.A.: Hi Jane Doe, your payment of $117.25 on account ****9876 is "
        "due on December 15, 2026. If you have paid, please ignore this text. Questions? Call "
        "1-800-555-0199. Sam Lee (ID U2041). This is a communication from a debt collector. "
        "Reply STOP to stop texts."
    )
    # No instalment after the as-of date: the reminder says only that a payment is coming due.
    none = replace(ZH, next_due_date=None, next_instalment_amount=None)
    assert render(reminder, none).body == (
        "【示范消费金融有限公司】张伟您好，您的借款（账号****4321）即将到期，请留意按时还款。"
        "如已还款，请忽略本短信；如有疑问，请致电400-800-1234。服务专员：李娜（工号C0107）。"
        "回复TD退订"
    )
    for body in (zh.body, en.body, render(reminder, none).body):
        assert "12,345.60" not in body and "1,234.50" not in body
        assert "2,345.60" not in body and "234.50" not in body  # nothing is overdue yet


def test_the_us_demand_letter_gives_the_overdue_amount_and_the_balance() -> None:
    rendered = render(DEFAULT_TEMPLATES["DEMAND_LETTER"], EN)
    assert rendered.subject == "Notice of amount due (AR-000117)"
    assert rendered.body == (
        """\
Jane Doe
42 Elm Street, Apt 3B, Springfield, IL 62704

Dear Jane Doe,

Your Demo Card Services, N.A. account ****9876 is 47 days past due. As of November 29, 2026, \
$234.50 is past due; the total balance of the account is $1,234.50.

Please pay the past-due amount, or call us at 1-800-555-0199 to agree on a payment arrangement \
that you can afford. If you have already paid, please disregard this letter.

Call or write to us by January 8, 2027 to dispute all or part of the debt. If you do not, we \
will assume that our information is correct. If you write to us by January 8, 2027, we must \
stop collection on any amount you dispute until we send you information that shows you owe \
the debt. Our number is 1-800-555-0199.

Sincerely,
Sam Lee (ID U2041)
Demo Card Services, N.A.
1 Example Plaza, Suite 100, Wilmington, DE 19801
1-800-555-0199

This is a communication from a debt collector. This is an attempt to collect a debt, and any \
information obtained will be used for that purpose.
"""
    )


def test_the_us_validation_notice_for_a_borrower_reads_as_written() -> None:
    rendered = render(DEFAULT_TEMPLATES["VALIDATION_NOTICE"], EN)
    assert rendered.subject == "Notice of debt (AR-000117)"
    assert rendered.body == (
        """\
Demo Card Services, N.A.
1 Example Plaza, Suite 100, Wilmington, DE 19801

To: Jane Doe
42 Elm Street, Apt 3B, Springfield, IL 62704

Reference: AR-000117

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
Write to us at: 1 Example Plaza, Suite 100, Wilmington, DE 19801

What else can you do?
Write to ask for the name and address of the original creditor, if different from the current \
creditor. If you write by January 8, 2027, we must stop collection until we send you that \
information.
Go to www.cfpb.gov/debt-collection to learn more about your rights under federal law.
Contact us about your payment options: call 1-800-555-0199.
Póngase en contacto con nosotros para solicitar una copia de este formulario en español.

This is a communication from a debt collector.
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
    assert (given["amount_due"], given["balance"]) == ("2,345.60元", "12,345.60元")
    assert (given["next_due_date"], given["next_instalment_amount"]) == (
        "2026年12月15日",
        "1,172.80元",
    )
    assert given["collector_address"] == "上海市浦东新区示范路1号示范金融大厦20层（邮编200120）"
    assert given["borrower_address"] == "北京市朝阳区示范街8号3单元502室"
    assert given["debt_collector_disclosure"] == ""  # a US rule: no Chinese words


def test_no_next_instalment_is_given_as_empty_text() -> None:
    given = variables(replace(EN, next_due_date=None, next_instalment_amount=None))
    assert (given["next_due_date"], given["next_instalment_amount"]) == ("", "")
    shown = variables(EN)
    assert (shown["next_due_date"], shown["next_instalment_amount"]) == (
        "December 15, 2026",
        "$117.25",
    )
    assert (shown["amount_due"], shown["balance"]) == ("$234.50", "$1,234.50")


@pytest.mark.parametrize(
    "channel", [ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.LETTER]
)
def test_the_debt_collector_disclosure_is_the_standard_words(channel: ContactChannel) -> None:
    words = variables(replace(EN, channel=channel))["debt_collector_disclosure"]
    assert words == "This is a communication from a debt collector."


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
        "{{ arrears }}",
        # Jinja's globals are gone: none of them prints a function into a notice.
        "{{ lipsum }}",
        "{{ range }}",
        "{{ dict }}",
        "{{ cycler }}",
        "{{ joiner }}",
        "{{ namespace }}",
        "{{ lipsum() }}",
        # Only the allowed filters exist.
        "{{ borrower_name|attr('upper') }}",
        "{{ borrower_name|replace('张', 'x') }}",
    ],
)
def test_the_sandbox_holds_for_a_text_that_skipped_the_checks(body: str) -> None:
    with pytest.raises(TemplateNotRenderable):
        render(_unchecked(body), ZH)


@pytest.mark.parametrize(
    ("body", "failure"),
    [
        # Parsed fine, but Python cannot compile a hundred nested blocks.
        ("{% if hotline %}" * 99 + "x" + "{% endif %}" * 99, "IndentationError"),
        # Deeper than the parser's stack.
        ("{% if hotline %}" * 400 + "x" + "{% endif %}" * 400, "RecursionError"),
        ("{{ " + "(" * 3000 + "hotline" + ")" * 3000 + " }}", "RecursionError"),
        ("{{ " + "not " * 3000 + "hotline }}", "RecursionError"),
        # Text that is not UTF-8 cannot be digested (nor sent).
        ("{{ borrower_name }}\ud800", "UnicodeEncodeError"),
    ],
    ids=["99-ifs", "400-ifs", "3000-parentheses", "3000-nots", "lone-surrogate"],
)
def test_whatever_an_unchecked_text_fails_with_is_not_renderable(body: str, failure: str) -> None:
    with pytest.raises(TemplateNotRenderable) as caught:
        render(_unchecked(body), ZH)
    assert str(caught.value) == f"template UNCHECKED cannot render a zh notice: {failure}"


def test_a_value_that_is_not_utf8_makes_the_notice_not_renderable() -> None:
    with pytest.raises(TemplateNotRenderable, match="UnicodeEncodeError"):
        render(DEFAULT_TEMPLATES["PAYMENT_REMINDER"], replace(ZH, borrower_name="张\udc80"))


# ---- What a text renders to is bounded ----------------------------------------------------------


def _letter(body: str, subject: str = "{{ case_reference }}") -> Template:
    """A letter built in code, never through template_from_payload's checks."""
    return Template(
        "UNCHECKED",
        "1",
        ContactChannel.LETTER,
        TemplatePurpose.DEMAND,
        frozenset({"CN"}),
        {"zh": TemplateText(body, subject)},
    )


def test_an_sms_renders_to_at_most_1000_characters() -> None:
    assert MAX_SMS_RENDERED == 1_000
    text = _unchecked("{{ borrower_name }}")
    assert render(text, replace(ZH, borrower_name="张" * 1_000)).body == "张" * 1_000
    with pytest.raises(TemplateNotRenderable) as caught:
        render(text, replace(ZH, borrower_name="张" * 1_001))
    assert str(caught.value).endswith("the body renders to more than 1,000 characters")


def test_a_checked_in_sms_filled_with_long_values_is_not_sent_overlong() -> None:
    long = replace(ZH, borrower_name="张" * 500, lender_name="示" * 500)
    with pytest.raises(TemplateNotRenderable, match="more than 1,000 characters"):
        render(DEFAULT_TEMPLATES["PAYMENT_REMINDER"], long)


def test_a_letter_or_email_body_renders_to_at_most_100000_characters() -> None:
    assert MAX_BODY_RENDERED == 100_000
    letter = replace(ZH, channel=ContactChannel.LETTER)
    text = _letter("{{ borrower_name }}")
    assert len(render(text, replace(letter, borrower_name="x" * 100_000)).body) == 100_000
    with pytest.raises(TemplateNotRenderable, match="more than 100,000 characters"):
        render(text, replace(letter, borrower_name="x" * 100_001))


def test_a_subject_is_one_line_of_at_most_300_characters() -> None:
    assert MAX_SUBJECT_RENDERED == 300
    letter = replace(
        ZH, channel=ContactChannel.LETTER, borrower_address="示范街8号\n3单元\r\n502室"
    )
    text = _letter("{{ borrower_address }}", "致{{ borrower_address }}")
    rendered = render(text, letter)
    # A line break in a value becomes a space in the subject; the body keeps it.
    assert rendered.subject == "致示范街8号 3单元 502室"
    assert rendered.body == "示范街8号\n3单元\r\n502室"
    assert rendered.digest == digest_of(rendered.subject, rendered.body)
    name = _letter("x", "{{ borrower_name }}")
    assert render(name, replace(letter, borrower_name="x" * 300)).subject == "x" * 300
    with pytest.raises(TemplateNotRenderable, match="subject renders to more than 300 characters"):
        render(name, replace(letter, borrower_name="x" * 301))
    with pytest.raises(TemplateNotRenderable, match="subject renders to more than one line"):
        render(_letter("x", "a\nb"), letter)  # a text that skipped the one-line check


def test_a_text_cannot_change_what_it_is_given() -> None:
    immutable = "{{ borrower_name }}{% set _ = lender_name %}{{ [].append(1) }}"
    with pytest.raises(TemplateNotRenderable):
        render(_unchecked(immutable), ZH)
