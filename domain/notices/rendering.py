"""Rendering a notice: a template's text in the borrower's language, filled in from a
``NoticeContext`` in Jinja's immutable sandbox (never ``eval``).

Every catalogue variable (``domain.notices.templates.VARIABLES``) is given as text, formatted
for the context's language:

- money: ``zh`` — the amount with thousands separators and the currency's word after it
  (``1,234.56元``, ``1,234.56美元``; an unknown currency: ``EUR 1,234.56``); ``en`` — ``$1,234.56``
  for USD, else the code before it (``CNY 1,234.56``); always the currency's minor units;
- dates: ``zh`` — ``2026年11月29日``; ``en`` — ``November 29, 2026``;
- ``agency_name``: empty when the lender collects itself (a text may test it with ``{% if %}``);
  ``next_due_date`` and ``next_instalment_amount`` empty when no instalment falls due after the
  as-of date (the same test);
- ``opt_out_instructions``, ``dispute_instructions`` and ``debt_collector_disclosure``: the
  standard words of the language and channel (``OPT_OUT``, ``_DISPUTE`` and
  ``DEBT_COLLECTOR_DISCLOSURE`` below).

A subject is one line: a line break in a value printed in it becomes a space. What a text
renders to is bounded, whatever its variables hold: an SMS body at most ``MAX_SMS_RENDERED``
characters (about fifteen 70-character segments), another body ``MAX_BODY_RENDERED``, a subject
``MAX_SUBJECT_RENDERED``; a text rendering longer — or failing in any way — raises
``TemplateNotRenderable``, which the outbox records.

The digest is the SHA-256 (hex) of the subject, a newline and the body (the body alone when there
is no subject): evidence of exactly what was sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from domain.contacts.model import ContactChannel
from domain.money import Money, minor_units
from domain.notices.errors import NoTemplateText, TemplateNotRenderable
from domain.notices.model import Template
from domain.notices.templates import compiled_text

# The most a rendered notice may hold, in characters (see the module's docstring).
MAX_SMS_RENDERED = 1_000
MAX_BODY_RENDERED = 100_000
MAX_SUBJECT_RENDERED = 300


@dataclass(frozen=True)
class NoticeContext:
    """What a notice says about one case, as the caller read it (``account_number`` already
    masked to its last 4 digits).

    ``amount_due`` is the overdue amount (the unpaid instalments due on or before ``as_of``),
    ``balance`` the whole outstanding balance; ``next_due_date`` and ``next_instalment_amount``
    the next unpaid instalment due after ``as_of`` (None when there is none: both or neither).
    ``collector_address`` is where the collector takes letters and disputes (the portfolio's
    ``mailing_address``), ``borrower_address`` the borrower's mailing address."""

    borrower_name: str
    borrower_address: str
    case_reference: str
    lender_name: str
    hotline: str
    collector_name: str
    collector_id: str
    collector_address: str
    agency_name: str | None
    amount_due: Money
    balance: Money
    next_due_date: date | None
    next_instalment_amount: Money | None
    days_past_due: int
    as_of: date
    account_number: str
    itemization_date: date
    itemization_amount: Money
    interest_since: Money
    fees_since: Money
    payments_since: Money
    dispute_deadline: date
    language: str
    channel: ContactChannel


@dataclass(frozen=True)
class RenderedNotice:
    subject: str | None
    body: str
    digest: str


# The words after a Chinese amount, by currency.
_ZH_CURRENCY = {"CNY": "元", "USD": "美元", "HKD": "港元", "EUR": "欧元", "JPY": "日元"}
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# How to stop messages by a channel, by language and channel ({hotline} filled in).
OPT_OUT: dict[tuple[str, ContactChannel], str] = {
    ("zh", ContactChannel.SMS): "回复TD退订",
    ("zh", ContactChannel.EMAIL): "如不希望继续收到此类邮件，请回复“退订”。",
    ("zh", ContactChannel.LETTER): "如不希望继续收到此类信函，请致电{hotline}告知。",
    ("en", ContactChannel.SMS): "Reply STOP to stop texts.",
    ("en", ContactChannel.EMAIL): "To stop e-mails from us, reply to this e-mail with the word "
    "STOP.",
    ("en", ContactChannel.LETTER): "If you want us to stop contacting you by mail, tell us in "
    "writing.",
}
# How to dispute the debt, by language: the long form (letters, e-mails) and the SMS form.
_DISPUTE: dict[tuple[str, bool], str] = {
    ("zh", False): "如您对欠款有异议，请于{deadline}前致电{hotline}或来函说明；在我们核实并"
    "向您提供相关依据之前，将暂停对有异议部分的催收。",
    ("zh", True): "如有异议，请于{deadline}前致电{hotline}。",
    ("en", False): "Call or write to us by {deadline} to dispute all or part of the debt. If "
    "you do not, we will assume that our information is correct. If you write to us by "
    "{deadline}, we must stop collection on any amount you dispute until we send you "
    "information that shows you owe the debt. Our number is {hotline}.",
    ("en", True): "To dispute the debt, call {hotline} by {deadline}.",
}
# That a message is from a debt collector (12 CFR 1006.18(e)), by language: a US rule, and the US
# portfolios write in English; no Chinese rule asks for it, so it is empty in zh.
DEBT_COLLECTOR_DISCLOSURE: dict[str, str] = {
    "zh": "",
    "en": "This is a communication from a debt collector.",
}


def format_money(money: Money, language: str) -> str:
    """Returns an amount as a notice in that language writes it."""
    places = minor_units(money.currency)
    amount = money.amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.{places}f}"
    if language == "zh":
        word = _ZH_CURRENCY.get(money.currency)
        return f"{sign}{digits}{word}" if word else f"{sign}{money.currency} {digits}"
    if money.currency == "USD":
        return f"{sign}${digits}"
    return f"{sign}{money.currency} {digits}"


def format_date(day: date, language: str) -> str:
    """Returns a date as a notice in that language writes it."""
    if language == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"


def variables(context: NoticeContext) -> dict[str, str]:
    """Returns every catalogue variable of a context, as text in its language."""
    language = context.language
    if language not in {lang for lang, _ in OPT_OUT}:
        raise ValueError(f"no notice wording for language {language!r}")
    deadline = format_date(context.dispute_deadline, language)
    sms = context.channel == ContactChannel.SMS
    opt_out = OPT_OUT.get((language, context.channel), "")
    next_due, next_amount = context.next_due_date, context.next_instalment_amount
    found = {
        "borrower_name": context.borrower_name,
        "borrower_address": context.borrower_address,
        "case_reference": context.case_reference,
        "lender_name": context.lender_name,
        "hotline": context.hotline,
        "collector_name": context.collector_name,
        "collector_id": context.collector_id,
        "collector_address": context.collector_address,
        "agency_name": context.agency_name or "",
        "amount_due": format_money(context.amount_due, language),
        "balance": format_money(context.balance, language),
        "next_due_date": "" if next_due is None else format_date(next_due, language),
        "next_instalment_amount": ""
        if next_amount is None
        else format_money(next_amount, language),
        "days_past_due": str(context.days_past_due),
        "as_of": format_date(context.as_of, language),
        "account_number": context.account_number,
        "itemization_date": format_date(context.itemization_date, language),
        "itemization_amount": format_money(context.itemization_amount, language),
        "interest_since": format_money(context.interest_since, language),
        "fees_since": format_money(context.fees_since, language),
        "payments_since": format_money(context.payments_since, language),
        "dispute_deadline": deadline,
        "opt_out_instructions": opt_out.format(hotline=context.hotline),
        "dispute_instructions": _DISPUTE[(language, sms)].format(
            deadline=deadline, hotline=context.hotline
        ),
        "debt_collector_disclosure": DEBT_COLLECTOR_DISCLOSURE[language],
    }
    return found


def _one_line(values: dict[str, str]) -> dict[str, str]:
    """The values as a subject prints them: every line break a space."""
    return {name: " ".join(value.splitlines()) for name, value in values.items()}


def _render(source: str, values: dict[str, str]) -> str:
    return compiled_text(source).render(values)


def _bounded(subject: str | None, body: str, channel: ContactChannel) -> str | None:
    """Why a rendered notice cannot be sent as it is (None: it can)."""
    limit = MAX_SMS_RENDERED if channel == ContactChannel.SMS else MAX_BODY_RENDERED
    if len(body) > limit:
        return f"the body renders to more than {limit:,} characters"
    if subject is not None:
        if "".join(subject.splitlines()) != subject:
            return "the subject renders to more than one line"
        if len(subject) > MAX_SUBJECT_RENDERED:
            return f"the subject renders to more than {MAX_SUBJECT_RENDERED} characters"
    return None


def digest_of(subject: str | None, body: str) -> str:
    """Returns the SHA-256 (hex) of what a notice says: its subject, a newline and its body."""
    text = body if subject is None else f"{subject}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def render(template: Template, context: NoticeContext) -> RenderedNotice:
    """Returns a template's text in the context's language, filled in; raises NoTemplateText
    without a text in that language, TemplateNotRenderable when the text fails to render in any
    way (a sandbox refusal, an undefined name, a text Jinja or Python cannot compile, nesting
    beyond the stack, text that is not valid UTF-8…) or renders beyond the limits."""
    if context.channel != template.channel:
        raise ValueError(f"a {template.channel} template cannot render a {context.channel}")
    text = template.texts.get(context.language)
    if text is None:
        raise NoTemplateText(template.name, context.language, "no text in that language")
    values = variables(context)
    try:
        subject = None if text.subject is None else _render(text.subject, _one_line(values))
        body = _render(text.body, values)
        digest = digest_of(subject, body)
    except Exception as error:  # whatever a text fails with is the text's failure, not the run's
        raise TemplateNotRenderable(template.name, context.language, type(error).__name__) from None
    beyond = _bounded(subject, body, template.channel)
    if beyond is not None:
        raise TemplateNotRenderable(template.name, context.language, beyond)
    return RenderedNotice(subject, body, digest)
