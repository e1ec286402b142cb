"""Notice templates as versioned data (rule-set kind ``NOTICE_TEMPLATE``, named by the template):
their payload, the variables a text may use, the content each conduct profile requires, and the
checked-in defaults.

A text is a Jinja template restricted to what a notice needs: ``{{ variable }}`` from the
catalogue (``VARIABLES``), the filters ``ALLOWED_FILTERS`` without arguments, ``~`` to join, and
``{% if %}`` / ``{% elif %}`` / ``{% else %}`` with ``not``, ``and``, ``or``, ``==``, ``!=``,
``in``. Everything else — loops, macros, includes, imports, ``{% set %}``, attribute or item
access, calls, arithmetic, any name outside the catalogue (Jinja's globals such as ``range`` or
``lipsum`` included) — is refused when the template is proposed (``CHANGE_INVALID`` naming the
text and the line), so a text can neither loop nor reach Python objects. A text nested more than
``MAX_DEPTH`` levels deep or of more than ``MAX_NODES`` elements is refused too, and every text is
compiled at proposal, so that what is approved is known to render; it is rendered in Jinja's
immutable sandbox as well, with no globals and only the allowed filters
(``domain.notices.rendering``).

Required content is data (``REQUIREMENTS``): one row per (profile, condition) with a stable
name. Every text of a template, in every language, must print each variable every profile it
serves requires for its channel and purpose — printed whatever the conditions (inside an
``{% if %}`` only when every branch prints it) — else ``TemplateContentMissing``.

Payload (JSON; an SMS body is at most 500 characters of template source, before rendering)::

    {"version": "2026.1", "channel": "SMS", "purpose": "REMINDER", "profiles": ["CN"],
     "texts": {"zh": {"body": "…"}, "en": {"subject": "…", "body": "…"}}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from domain.changes.errors import ChangeInvalid
from domain.changes.rules import Reader, version_label
from domain.conduct.profiles import PROFILES
from domain.contacts.model import ContactChannel
from domain.notices.errors import TemplateContentMissing
from domain.notices.model import (
    LANGUAGES,
    NOTICE_CHANNELS,
    Template,
    TemplatePurpose,
    TemplateText,
)

MAX_BODY = 20_000
MAX_SMS_BODY = 500  # characters of the template's source, before rendering
MAX_SUBJECT = 200
# How deep a text's parsed form may nest (``{% if %}`` in ``{% if %}``, ``not``, ``and``, filters
# on filters, …) and how many elements it may hold: far above what a notice needs, far below what
# the parser or Python's compiler can take (about a hundred nested ``{% if %}`` do not compile).
MAX_DEPTH = 20
MAX_NODES = 2_000
# The channels whose texts have a subject line (an SMS has none).
SUBJECT_CHANNELS = frozenset({ContactChannel.EMAIL, ContactChannel.LETTER})

# The variables a text may use, each rendered as text in the notice's language
# (domain.notices.rendering.variables); the description names it in refusals and the guide.
VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "borrower_name": "the borrower's name",
        "borrower_address": "the borrower's mailing address",
        "case_reference": "the case's reference (AR-000123)",
        "lender_name": "the lender's name (the creditor)",
        "hotline": "the number the borrower calls back",
        "collector_name": "the collector's name",
        "collector_id": "the collector's identity",
        "collector_address": "the mailing address where the collector takes letters and disputes",
        "agency_name": "the collection agency's name (empty when the lender collects itself)",
        "amount_due": "the overdue amount: the unpaid instalments due on or before the as-of date",
        "balance": "the whole outstanding balance, overdue or not",
        "next_due_date": "the due date of the next unpaid instalment after the as-of date "
        "(empty when there is none)",
        "next_instalment_amount": "the amount of that next instalment (empty when there is none)",
        "days_past_due": "the days past due",
        "as_of": "the date the amounts are as of",
        "account_number": "the account number, masked to its last 4 digits",
        "itemization_date": "the itemization date",
        "itemization_amount": "the amount owed on the itemization date",
        "interest_since": "the interest charged since the itemization date",
        "fees_since": "the fees charged since the itemization date",
        "payments_since": "the payments and credits since the itemization date",
        "dispute_deadline": "the last day to dispute the debt",
        "opt_out_instructions": "how to stop messages by this channel (standard words)",
        "dispute_instructions": "how to dispute the debt (standard words)",
        "debt_collector_disclosure": "that the message is from a debt collector (standard "
        "words; empty in zh, which no Chinese rule asks for)",
    }
)
ALLOWED_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim"})
_COMPARISONS = frozenset({"eq", "ne", "in", "notin"})
_ALLOWED_NODES: frozenset[type[nodes.Node]] = frozenset(
    {
        nodes.Template,
        nodes.Output,
        nodes.TemplateData,
        nodes.Name,
        nodes.Const,
        nodes.If,
        nodes.CondExpr,
        nodes.Not,
        nodes.And,
        nodes.Or,
        nodes.Compare,
        nodes.Operand,
        nodes.Concat,
        nodes.Filter,
    }
)
# What a refused construct is called in the refusal.
_REFUSED: Mapping[type[nodes.Node], str] = MappingProxyType(
    {
        nodes.For: "{% for %} loops",
        nodes.Macro: "macros",
        nodes.CallBlock: "{% call %} blocks",
        nodes.Include: "includes",
        nodes.Import: "imports",
        nodes.FromImport: "imports",
        nodes.Extends: "{% extends %}",
        nodes.Block: "{% block %}",
        nodes.Assign: "{% set %}",
        nodes.AssignBlock: "{% set %}",
        nodes.With: "{% with %}",
        nodes.FilterBlock: "{% filter %} blocks",
        nodes.Getattr: "attribute access",
        nodes.Getitem: "item access",
        nodes.Call: "calls",
        nodes.Test: "tests (is …)",
    }
)

# The one sandbox every text is parsed and rendered in: undefined variables fail, nothing is
# HTML-escaped (notices are plain text), and the text keeps its whitespace as written (``{%-``
# and ``-%}`` trim it). It has no globals (``range``, ``lipsum``, ``cycler``… would print a
# function into a notice) and only the allowed filters, whatever a text skipped.
SANDBOX = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
SANDBOX.globals.clear()
SANDBOX.filters = {name: SANDBOX.filters[name] for name in sorted(ALLOWED_FILTERS)}


@lru_cache(maxsize=512)
def compiled_text(source: str) -> jinja2.Template:
    """Returns a text compiled in the sandbox (cached by its source); raises whatever Jinja or
    Python's compiler raises for a text that cannot be compiled."""
    return SANDBOX.from_string(source)


@dataclass(frozen=True)
class Requirement:
    """What a profile requires of a text: every variable of ``variables`` printed, for the
    channels and purposes named (None: all)."""

    name: str
    profile: str
    variables: tuple[str, ...]
    explanation: str
    channels: frozenset[ContactChannel] | None = None
    purposes: frozenset[TemplatePurpose] | None = None

    def applies(self, channel: ContactChannel, purpose: TemplatePurpose) -> bool:
        """Whether the row applies to a template of this channel and purpose."""
        return (self.channels is None or channel in self.channels) and (
            self.purposes is None or purpose in self.purposes
        )


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        "CN_COLLECTOR_AND_LENDER",
        "CN",
        ("collector_name", "collector_id", "lender_name"),
        "every message names the collector, the collector's identity and the lender it collects "
        "for (CBA collection conduct guideline 2026; national standard 2025)",
    ),
    Requirement(
        "REG_F_CREDITOR_AND_COLLECTOR",
        "US_REG_F",
        ("lender_name", "collector_name"),
        "every notice names the creditor and the debt collector by its true name (FDCPA § 807(14))",
    ),
    Requirement(
        "REG_F_DEBT_COLLECTOR_DISCLOSURE",
        "US_REG_F",
        ("debt_collector_disclosure",),
        "every communication discloses that it is from a debt collector (FDCPA § 807(11), "
        "12 CFR 1006.18(e))",
    ),
    Requirement(
        "REG_F_OPT_OUT",
        "US_REG_F",
        ("opt_out_instructions",),
        "an electronic message says how to opt out of further messages by that medium "
        "(12 CFR 1006.6(e))",
        channels=frozenset({ContactChannel.SMS, ContactChannel.EMAIL}),
    ),
    Requirement(
        "REG_F_VALIDATION_INFORMATION",
        "US_REG_F",
        (
            "collector_name",
            "borrower_name",
            "lender_name",
            "account_number",
            "itemization_date",
            "itemization_amount",
            "interest_since",
            "fees_since",
            "payments_since",
            "balance",
            "dispute_deadline",
            "dispute_instructions",
        ),
        "a validation notice gives the validation information (12 CFR 1006.34(c)): the "
        "collector, the consumer, the creditor, the account, the itemization since the "
        "itemization date, the whole amount of the debt now, and the end of the validation "
        "period with how to dispute",
        purposes=frozenset({TemplatePurpose.VALIDATION}),
    ),
    Requirement(
        "REG_F_VALIDATION_ADDRESSES",
        "US_REG_F",
        ("collector_address", "borrower_address"),
        "a validation notice gives the mailing address at which the debt collector accepts "
        "disputes and requests (12 CFR 1006.34(c)(1)) and the consumer's mailing address "
        "(12 CFR 1006.34(c)(2)(i))",
        purposes=frozenset({TemplatePurpose.VALIDATION}),
    ),
)


def requirements_for(
    profile: str, channel: ContactChannel, purpose: TemplatePurpose
) -> tuple[Requirement, ...]:
    """Returns the rows of a profile that apply to a template of this channel and purpose."""
    return tuple(r for r in REQUIREMENTS if r.profile == profile and r.applies(channel, purpose))


def required_variables(
    profile: str, channel: ContactChannel, purpose: TemplatePurpose
) -> tuple[str, ...]:
    """Returns the variables a profile requires of a text, in the catalogue's order."""
    wanted = {v for r in requirements_for(profile, channel, purpose) for v in r.variables}
    return tuple(v for v in VARIABLES if v in wanted)


# ---- The checks of one text ---------------------------------------------------------------------


def _refuse(where: str, line: int | None, what: str) -> ChangeInvalid:
    at = f" line {line}" if line else ""
    return ChangeInvalid(
        f"{where}{at}: {what} (a text may print catalogue variables, use the filters "
        f"{', '.join(sorted(ALLOWED_FILTERS))} and {{% if %}})",
        field=where,
    )


def _check_node(node: nodes.Node, where: str, line: int | None = None) -> None:
    line = getattr(node, "lineno", None) or line  # an operand has no line of its own
    kind = type(node)
    if kind not in _ALLOWED_NODES:
        construct = _REFUSED.get(kind, f"{kind.__name__} expressions")
        raise _refuse(where, line, f"not allowed here: {construct}")
    if isinstance(node, nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            raise _refuse(where, line, f"not allowed here: the filter {node.name!r}")
        if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise _refuse(where, line, f"the filter {node.name!r} takes no arguments here")
    if isinstance(node, nodes.Operand) and node.op not in _COMPARISONS:
        raise _refuse(where, line, f"not allowed here: the comparison {node.op!r}")
    for child in node.iter_child_nodes():
        _check_node(child, where, line)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800")
        return False
    return True


def _check_size(tree: nodes.Template, where: str) -> None:
    """Refuses a tree nested more than MAX_DEPTH levels deep or of more than MAX_NODES elements,
    walked without recursion (so that no depth can exhaust the stack here)."""
    stack: list[tuple[nodes.Node, int, int | None]] = [(tree, 1, None)]
    count = 0
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", None) or line
        count += 1
        if depth > MAX_DEPTH:
            at = f" line {line}" if line else ""
            raise ChangeInvalid(
                f"{where}{at}: nested too deeply (at most {MAX_DEPTH} levels)", field=where
            )
        if count > MAX_NODES:
            raise ChangeInvalid(
                f"{where}: too long a template (at most {MAX_NODES:,} elements)", field=where
            )
        stack.extend((child, depth + 1, line) for child in node.iter_child_nodes())


def _check_names(tree: nodes.Template, where: str) -> None:
    """Refuses a name not in the catalogue (Jinja's globals, ``range`` or ``lipsum``, included:
    every name a text may print is a catalogue variable)."""
    unknown = [n for n in tree.find_all(nodes.Name) if n.name not in VARIABLES]
    if unknown:
        first = min(unknown, key=lambda n: n.lineno)
        line = f" line {first.lineno}" if first.lineno else ""
        raise ChangeInvalid(
            f"{where}{line}: unknown variable {first.name!r} (the catalogue: "
            f"{', '.join(VARIABLES)})",
            field=where,
        )


def parse_text(source: str, where: str) -> nodes.Template:
    """Returns a text's parsed form, or refuses (CHANGE_INVALID naming ``where`` and, where it
    has one, the line) a text that is not valid UTF-8 text, a syntax error, a text nested too
    deeply or too long, a construct the notices do not allow, a name not in the catalogue, or a
    text the sandbox cannot compile."""
    if not _encodable(source):
        raise ChangeInvalid(f"{where} is not valid text", field=where)
    try:
        tree = SANDBOX.parse(source)
    except TemplateSyntaxError as error:
        raise ChangeInvalid(f"{where} line {error.lineno}: {error.message}", field=where) from None
    except RecursionError:
        raise ChangeInvalid(
            f"{where}: nested too deeply (at most {MAX_DEPTH} levels)", field=where
        ) from None
    _check_size(tree, where)
    _check_node(tree, where)
    _check_names(tree, where)
    try:
        compiled_text(source)
    except Exception as error:  # whatever fails to compile (IndentationError…) is refused
        raise ChangeInvalid(
            f"{where}: the text cannot be compiled ({type(error).__name__})", field=where
        ) from None
    return tree


def _printed_in(body: Iterable[nodes.Node]) -> set[str]:
    found: set[str] = set()
    for node in body:
        found |= _printed(node)
    return found


def _printed(node: nodes.Node) -> set[str]:
    """The variables a node prints whatever the conditions: an ``{% if %}`` (or ``a if c else
    b``) prints only what every branch prints."""
    if isinstance(node, nodes.Name):
        return {node.name}
    if isinstance(node, nodes.Filter) and node.node is not None:
        return _printed(node.node)
    if isinstance(node, nodes.Concat):
        return _printed_in(node.nodes)
    if isinstance(node, nodes.Output):
        return _printed_in(node.nodes)
    if isinstance(node, nodes.If):
        if not node.else_:
            return set()
        # Each ``{% elif %}`` is an If of its own whose body is the branch.
        branches = [_printed_in(node.body), *(_printed_in(e.body) for e in node.elif_)]
        branches.append(_printed_in(node.else_))
        return set.intersection(*branches)
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        return _printed(node.expr1) & _printed(node.expr2)
    return set()


def printed_variables(tree: nodes.Template) -> set[str]:
    """Returns the variables a parsed text prints whatever its conditions."""
    return _printed_in(tree.body)


def _missing(template: Template, trees: Mapping[str, set[str]]) -> list[tuple[str, str, list[str]]]:
    """(language, profile, missing variables) for every text that lacks what a profile requires."""
    gaps = []
    for language, printed in trees.items():
        for profile in sorted(template.profiles):
            wanted = required_variables(profile, template.channel, template.purpose)
            lacking = [v for v in wanted if v not in printed]
            if lacking:
                gaps.append((language, profile, lacking))
    return gaps


def check_required_content(template: Template) -> None:
    """Refuses a template any of whose texts lacks what a profile it serves requires
    (TemplateContentMissing naming each missing variable, the language and the profile)."""
    printed: dict[str, set[str]] = {}
    for language, text in template.texts.items():
        where = f"payload.texts.{language}"
        found = printed_variables(parse_text(text.body, f"{where}.body"))
        if text.subject is not None:
            found |= printed_variables(parse_text(text.subject, f"{where}.subject"))
        printed[language] = found
    gaps = _missing(template, printed)
    if gaps:
        message = "; ".join(
            f"the {language} text lacks what {profile} requires: "
            + ", ".join(f"{v} ({VARIABLES[v]})" for v in lacking)
            for language, profile, lacking in gaps
        )
        raise TemplateContentMissing(message, field=f"payload.texts.{gaps[0][0]}")


# ---- Payload ------------------------------------------------------------------------------------


def _channel(reader: Reader) -> ContactChannel:
    value = reader.raw("channel")
    names = ", ".join(sorted(c.value for c in NOTICE_CHANNELS))
    if not isinstance(value, str) or value not in {c.value for c in NOTICE_CHANNELS}:
        raise ChangeInvalid(f"payload.channel must be one of {names}", field="payload.channel")
    return ContactChannel(value)


def _profiles(reader: Reader) -> frozenset[str]:
    raw = reader.raw("profiles")
    if not isinstance(raw, list) or not raw or len(raw) > len(PROFILES):
        raise ChangeInvalid(
            f"payload.profiles must list 1 to {len(PROFILES)} conduct profiles",
            field="payload.profiles",
        )
    for index, value in enumerate(raw):
        where = f"payload.profiles[{index}]"
        if not isinstance(value, str) or value not in PROFILES:
            raise ChangeInvalid(f"{where} must be one of {', '.join(PROFILES)}", field=where)
        if value in raw[:index]:
            raise ChangeInvalid(f"{where}: {value} is listed twice", field=where)
    return frozenset(raw)


def _text(value: object, language: str, channel: ContactChannel) -> TemplateText:
    reader = Reader(value, f"payload.texts.{language}")
    body = reader.raw("body")
    where = reader.at("body")
    limit = MAX_SMS_BODY if channel == ContactChannel.SMS else MAX_BODY
    if not isinstance(body, str) or not body.strip() or len(body) > limit:
        raise ChangeInvalid(
            f"{where} must be text of 1 to {limit} characters"
            + (" (an SMS, counted before rendering)" if channel == ContactChannel.SMS else ""),
            field=where,
        )
    if "\x00" in body or not _encodable(body):
        raise ChangeInvalid(f"{where} is not valid text", field=where)
    subject: str | None = None
    if channel in SUBJECT_CHANNELS:
        subject = reader.text("subject", MAX_SUBJECT)
        if "".join(subject.splitlines()) != subject:  # any line break: \n, \r, \u2028…
            where = reader.at("subject")
            raise ChangeInvalid(f"{where} must be one line", field=where)
    elif "subject" in reader.data:
        where = reader.at("subject")
        raise ChangeInvalid(f"{where}: an {channel} has no subject", field=where)
    reader.done()
    return TemplateText(body=body, subject=subject)


def _texts(reader: Reader, channel: ContactChannel) -> Mapping[str, TemplateText]:
    raw = reader.raw("texts")
    if not isinstance(raw, dict) or not raw:
        raise ChangeInvalid(
            f"payload.texts must hold a text in at least one of {', '.join(LANGUAGES)}",
            field="payload.texts",
        )
    for language in raw:
        if language not in LANGUAGES:
            where = f"payload.texts.{language}"
            raise ChangeInvalid(
                f"{where}: the languages are {', '.join(LANGUAGES)}", field="payload.texts"
            )
    return MappingProxyType(
        {
            language: _text(raw[language], language, channel)
            for language in LANGUAGES
            if language in raw
        }
    )


def template_from_payload(name: str, payload: object) -> Template:
    """Returns the template a payload describes, or refuses it: CHANGE_INVALID naming the field
    at fault, TEMPLATE_CONTENT_MISSING for content a profile it serves requires."""
    reader = Reader(payload)
    version = version_label(reader)
    channel = _channel(reader)
    purpose = reader.member("purpose", TemplatePurpose)
    profiles = _profiles(reader)
    texts = _texts(reader, channel)
    reader.done()
    template = Template(name, version, channel, purpose, profiles, texts)
    check_required_content(template)
    return template


def template_to_payload(template: Template) -> dict[str, Any]:
    """Returns a template's payload (``template_from_payload`` reads it back to an equal one)."""
    texts: dict[str, Any] = {}
    for language in LANGUAGES:
        text = template.texts.get(language)
        if text is None:
            continue
        texts[language] = (
            {"subject": text.subject, "body": text.body}
            if text.subject is not None
            else {"body": text.body}
        )
    return {
        "version": template.version,
        "channel": str(template.channel),
        "purpose": str(template.purpose),
        "profiles": sorted(template.profiles),
        "texts": texts,
    }


def serves(template: Template, profile: str, language: str) -> bool:
    """Whether a template may be used for a portfolio of this profile and language."""
    return profile in template.profiles and language in template.texts


def render_requirements_markdown() -> str:
    """Returns the requirements table as Markdown (the API guide embeds it; a test compares)."""
    lines = [
        "| profile | rule | applies to | variables | why |",
        "|---|---|---|---|---|",
    ]
    for row in REQUIREMENTS:
        scope = []
        if row.channels is not None:
            scope.append(", ".join(sorted(str(c) for c in row.channels)))
        if row.purposes is not None:
            scope.append(", ".join(sorted(str(p) for p in row.purposes)))
        applies = " ".join(scope) or "every template"
        names = ", ".join(f"`{v}`" for v in row.variables)
        lines.append(f"| {row.profile} | `{row.name}` | {applies} | {names} | {row.explanation} |")
    return "\n".join(lines) + "\n"


def render_variables_markdown() -> str:
    """Returns the variable catalogue as Markdown (the API guide embeds it; a test compares)."""
    lines = ["| variable | what it holds |", "|---|---|"]
    lines += [f"| `{name}` | {description} |" for name, description in VARIABLES.items()]
    return "\n".join(lines) + "\n"


# ---- The checked-in templates (approved by release) ---------------------------------------------

_SIGNED_ZH = (
    "{% if agency_name %}{{ agency_name }}（受{{ lender_name }}委托）"
    "{% else %}{{ lender_name }}{% endif %}"
)
_SIGNED_EN = (
    "{% if agency_name %}{{ agency_name }}, on behalf of {{ lender_name }}"
    "{% else %}{{ lender_name }}{% endif %}"
)

_DEFAULT_PAYLOADS: Mapping[str, Mapping[str, Any]] = {
    "PRE_DUE_REMINDER": {
        "channel": "SMS",
        "purpose": "REMINDER",
        "profiles": ["CN", "US_REG_F"],
        "texts": {
            "zh": {
                "body": "【{{ lender_name }}】{{ borrower_name }}您好，您的借款（账号"
                "{{ account_number }}）{% if next_due_date %}下一期应还"
                "{{ next_instalment_amount }}，还款日为{{ next_due_date }}{% else %}即将到期"
                "{% endif %}，请留意按时还款。如已还款，请忽略本短信；如有疑问，请致电"
                "{{ hotline }}。服务专员：{{ collector_name }}（工号{{ collector_id }}）。"
                "{{ opt_out_instructions }}{{ debt_collector_disclosure }}"
            },
            "en": {
                "body": "{{ lender_name }}: Hi {{ borrower_name }}, {% if next_due_date %}your "
                "payment of {{ next_instalment_amount }} on account {{ account_number }} is due "
                "on {{ next_due_date }}{% else %}a payment on your account {{ account_number }} "
                "is coming due{% endif %}. If you have paid, please ignore this text. "
                "Questions? Call {{ hotline }}. {{ collector_name }} (ID {{ collector_id }}). "
                "{{ debt_collector_disclosure }} {{ opt_out_instructions }}"
            },
        },
    },
    "PAYMENT_REMINDER": {
        "channel": "SMS",
        "purpose": "REMINDER",
        "profiles": ["CN", "US_REG_F"],
        "texts": {
            "zh": {
                "body": "【{{ lender_name }}】{{ borrower_name }}您好，您的借款（账号"
                "{{ account_number }}）已逾期{{ days_past_due }}天，截至{{ as_of }}逾期金额"
                "{{ amount_due }}。请尽快还款；如还款确有困难，请致电{{ hotline }}与我们协商。"
                "催收专员：{{ collector_name }}（工号{{ collector_id }}）。"
                "{{ opt_out_instructions }}{{ debt_collector_disclosure }}"
            },
            "en": {
                "body": "{{ lender_name }}: {{ borrower_name }}, your account "
                "{{ account_number }} is {{ days_past_due }} days past due: {{ amount_due }} "
                "is overdue as of {{ as_of }}. Please pay, or call {{ hotline }} to talk about "
                "your options. {{ collector_name }} (ID {{ collector_id }}). "
                "{{ debt_collector_disclosure }} {{ opt_out_instructions }}"
            },
        },
    },
    "PAYMENT_REMINDER_EMAIL": {
        "channel": "EMAIL",
        "purpose": "REMINDER",
        "profiles": ["CN", "US_REG_F"],
        "texts": {
            "zh": {
                "subject": "【{{ lender_name }}】还款提醒（案件编号{{ case_reference }}）",
                "body": "{{ borrower_name }}您好：\n\n"
                "您在{{ lender_name }}的借款（账号{{ account_number }}）已逾期"
                "{{ days_past_due }}天。截至{{ as_of }}，逾期未还金额为{{ amount_due }}，"
                "借款余额合计{{ balance }}。\n\n"
                "请您尽快偿还逾期金额。如您目前还款确有困难，请致电客服热线{{ hotline }}，"
                "我们将与您沟通可行的还款安排。如您已还款，请忽略本邮件。\n\n"
                "经办人：{{ collector_name }}（工号{{ collector_id }}）\n"
                + _SIGNED_ZH
                + "\n\n{{ opt_out_instructions }}{{ debt_collector_disclosure }}\n",
            },
            "en": {
                "subject": "Payment reminder from {{ lender_name }} ({{ case_reference }})",
                "body": "Dear {{ borrower_name }},\n\n"
                "Your {{ lender_name }} account {{ account_number }} is {{ days_past_due }} "
                "days past due. As of {{ as_of }}, {{ amount_due }} is overdue; the total "
                "balance of the account is {{ balance }}.\n\n"
                "Please pay the overdue amount as soon as you can. If you are having difficulty "
                "paying, call us at {{ hotline }} and we will go through your options with "
                "you. If you have already paid, please disregard this message.\n\n"
                "{{ collector_name }} (ID {{ collector_id }})\n"
                + _SIGNED_EN
                + "\n\n{{ debt_collector_disclosure }}\n\n"
                "{{ opt_out_instructions }}\n",
            },
        },
    },
    "DEMAND_LETTER": {
        "channel": "LETTER",
        "purpose": "DEMAND",
        "profiles": ["CN", "US_REG_F"],
        "texts": {
            "zh": {
                "subject": "还款通知书（案件编号{{ case_reference }}）",
                "body": "{{ borrower_name }}：\n\n"
                "您在{{ lender_name }}的借款（账号{{ account_number }}）已逾期"
                "{{ days_past_due }}天。截至{{ as_of }}，您逾期未还的金额为{{ amount_due }}，"
                "借款余额合计{{ balance }}。\n\n"
                "请您在收到本通知后尽快偿还上述逾期款项。如您目前还款确有困难，请致电"
                "{{ hotline }}与我们联系，我们将根据您的实际情况与您协商还款安排。\n\n"
                "{{ dispute_instructions }}\n\n"
                "如您已还款，请忽略本通知。\n\n"
                + _SIGNED_ZH
                + "\n经办人：{{ collector_name }}（工号{{ collector_id }}）\n"
                "联系电话：{{ hotline }}\n"
                "通信地址：{{ collector_address }}\n"
                "{{ as_of }}\n{{ debt_collector_disclosure }}",
            },
            "en": {
                "subject": "Notice of amount due ({{ case_reference }})",
                "body": "{{ borrower_name }}\n{{ borrower_address }}\n\n"
                "Dear {{ borrower_name }},\n\n"
                "Your {{ lender_name }} account {{ account_number }} is {{ days_past_due }} "
                "days past due. As of {{ as_of }}, {{ amount_due }} is past due; the total "
                "balance of the account is {{ balance }}.\n\n"
                "Please pay the past-due amount, or call us at {{ hotline }} to agree on a "
                "payment arrangement that you can afford. If you have already paid, please "
                "disregard this letter.\n\n"
                "{{ dispute_instructions }}\n\n"
                "Sincerely,\n"
                "{{ collector_name }} (ID {{ collector_id }})\n"
                + _SIGNED_EN
                + "\n{{ collector_address }}\n{{ hotline }}\n\n"
                "{{ debt_collector_disclosure }} This is an attempt to collect a debt, and any "
                "information obtained will be used for that purpose.\n",
            },
        },
    },
    "VALIDATION_NOTICE": {
        "channel": "LETTER",
        "purpose": "VALIDATION",
        "profiles": ["US_REG_F"],
        "texts": {
            "en": {
                "subject": "Notice of debt ({{ case_reference }})",
                "body": "{% if agency_name %}{{ agency_name }}{% else %}{{ lender_name }}"
                "{% endif %}\n{{ collector_address }}\n\n"
                "To: {{ borrower_name }}\n{{ borrower_address }}\n\n"
                "Reference: {{ case_reference }}\n\n"
                "{{ collector_name }}{% if agency_name %} of {{ agency_name }}{% endif %}"
                " is a debt collector. We are trying to collect a debt that you owe to "
                "{{ lender_name }}, your creditor. We will use any information you give us to "
                "help collect the debt.\n\n"
                "Our information shows:\n"
                "You had an account from {{ lender_name }} with account number "
                "{{ account_number }}.\n"
                "As of {{ itemization_date }}, you owed: {{ itemization_amount }}\n"
                "Between {{ itemization_date }} and today:\n"
                "  You were charged this amount in interest: + {{ interest_since }}\n"
                "  You were charged this amount in fees: + {{ fees_since }}\n"
                "  You paid or were credited this amount toward the debt: - "
                "{{ payments_since }}\n"
                "Total amount of the debt now: {{ balance }}\n\n"
                "How can you dispute the debt?\n"
                "{{ dispute_instructions }}\n"
                "Write to us at: {{ collector_address }}\n\n"
                "What else can you do?\n"
                "Write to ask for the name and address of the original creditor, if different "
                "from the current creditor. If you write by {{ dispute_deadline }}, we must "
                "stop collection until we send you that information.\n"
                "Go to www.cfpb.gov/debt-collection to learn more about your rights under "
                "federal law.\n"
                "Contact us about your payment options: call {{ hotline }}.\n"
                "Póngase en contacto con nosotros para solicitar una copia de este formulario "
                "en español.\n\n"
                "{{ debt_collector_disclosure }}\n",
            },
        },
    },
}

# The label of every checked-in template.
DEFAULT_VERSION = "2026.1"

DEFAULT_TEMPLATES: Mapping[str, Template] = MappingProxyType(
    {
        name: template_from_payload(name, {"version": DEFAULT_VERSION, **payload})
        for name, payload in _DEFAULT_PAYLOADS.items()
    }
)
