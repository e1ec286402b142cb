"""Notice templates as data: the payload read back exactly, every field checked, the content each
conduct profile requires driven to its boundary, and the sandbox's grammar (no loops, no
attribute access, no names outside the catalogue — Jinja's globals included), with the limits that
keep what is approved renderable (nesting, size, text that is not UTF-8, a text Python cannot
compile)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.changes import registry
from domain.changes.errors import ChangeInvalid, ContentRuleBroken
from domain.contacts.model import ContactChannel
from domain.errors import ErrorCode
from domain.notices.errors import TemplateContentMissing
from domain.notices.model import Template, TemplatePurpose, TemplateText
from domain.notices.templates import (
    DEFAULT_TEMPLATES,
    MAX_BODY,
    MAX_DEPTH,
    MAX_NODES,
    MAX_SMS_BODY,
    REQUIREMENTS,
    SANDBOX,
    VARIABLES,
    check_required_content,
    render_requirements_markdown,
    render_variables_markdown,
    required_variables,
    serves,
    template_from_payload,
    template_to_payload,
)
from domain.rulesets import RuleSetKind

SUBJECT = "Notice from {{ lender_name }}"
# What a reminder by SMS or e-mail for both profiles prints.
BOTH_REMINDER = [
    "lender_name",
    "collector_name",
    "collector_id",
    "opt_out_instructions",
    "debt_collector_disclosure",
]


def through_json(payload: Any) -> Any:
    """What the database gives back."""
    return json.loads(json.dumps(payload))


def printing(variables: list[str] | tuple[str, ...], prefix: str = "") -> str:
    """A text printing each of ``variables`` once."""
    return prefix + " ".join("{{ " + v + " }}" for v in variables)


def payload(
    channel: str = "SMS",
    purpose: str = "REMINDER",
    profiles: list[str] | None = None,
    texts: dict[str, Any] | None = None,
    version: str = "t1",
) -> dict[str, Any]:
    """A template payload; by default an SMS printing what every profile requires of it."""
    chosen = profiles if profiles is not None else ["CN"]
    if texts is None:
        wanted = sorted(
            {
                v
                for p in chosen
                for v in required_variables(p, ContactChannel(channel), TemplatePurpose(purpose))
            }
        )
        text: dict[str, str] = {"body": printing(wanted, "Hello. ")}
        if channel != "SMS":
            text["subject"] = SUBJECT
        texts = {"zh": text}
    return {
        "version": version,
        "channel": channel,
        "purpose": purpose,
        "profiles": chosen,
        "texts": texts,
    }


def read(value: dict[str, Any], name: str = "T1") -> Template:
    return template_from_payload(name, through_json(value))


def refused(value: dict[str, Any]) -> ChangeInvalid:
    with pytest.raises(ChangeInvalid) as caught:
        read(value)
    assert caught.value.code == ErrorCode.CHANGE_INVALID
    return caught.value


def missing(value: dict[str, Any]) -> TemplateContentMissing:
    with pytest.raises(TemplateContentMissing) as caught:
        read(value)
    assert caught.value.code == ErrorCode.TEMPLATE_CONTENT_MISSING
    return caught.value


# ---- The checked-in templates -------------------------------------------------------------------


def test_the_checked_in_templates_are_the_ones_the_default_strategy_names() -> None:
    shown = {
        name: (t.version, t.channel, t.purpose, sorted(t.profiles), list(t.texts))
        for name, t in DEFAULT_TEMPLATES.items()
    }
    both = ["CN", "US_REG_F"]
    assert shown == {
        "PRE_DUE_REMINDER": ("2026.1", "SMS", "REMINDER", both, ["zh", "en"]),
        "PAYMENT_REMINDER": ("2026.1", "SMS", "REMINDER", both, ["zh", "en"]),
        "PAYMENT_REMINDER_EMAIL": ("2026.1", "EMAIL", "REMINDER", both, ["zh", "en"]),
        "DEMAND_LETTER": ("2026.1", "LETTER", "DEMAND", both, ["zh", "en"]),
        "VALIDATION_NOTICE": ("2026.1", "LETTER", "VALIDATION", ["US_REG_F"], ["en"]),
    }
    assert all(t.name == name for name, t in DEFAULT_TEMPLATES.items())


@pytest.mark.parametrize("name", list(DEFAULT_TEMPLATES))
def test_every_checked_in_template_round_trips_exactly(name: str) -> None:
    template = DEFAULT_TEMPLATES[name]
    written = through_json(template_to_payload(template))
    assert template_from_payload(name, written) == template
    assert template_to_payload(template_from_payload(name, written)) == written
    # What the registry stores is what the template reads back as.
    assert registry.changeable(RuleSetKind.NOTICE_TEMPLATE).normalise(name, written) == written


def test_the_payload_is_stored_in_one_canonical_form() -> None:
    given = payload(
        channel="EMAIL",
        profiles=["US_REG_F", "CN"],
        texts={
            "en": {"body": printing(BOTH_REMINDER), "subject": SUBJECT},
            "zh": {"subject": SUBJECT, "body": printing(BOTH_REMINDER)},
        },
    )
    written = template_to_payload(read(given))
    assert written["profiles"] == ["CN", "US_REG_F"]
    assert list(written["texts"]) == ["zh", "en"]
    assert list(written["texts"]["en"]) == ["subject", "body"]
    assert through_json(written) == written


def test_serves_needs_the_profile_and_a_text_in_the_language() -> None:
    validation = DEFAULT_TEMPLATES["VALIDATION_NOTICE"]
    assert serves(validation, "US_REG_F", "en")
    assert not serves(validation, "US_REG_F", "zh")
    assert not serves(validation, "CN", "en")


# ---- Required content, per profile --------------------------------------------------------------


def _cases() -> list[tuple[str, str, str, str, str]]:
    """(rule, profile, channel, purpose, variable) for every variable of every row."""
    cases = []
    for row in REQUIREMENTS:
        channel = sorted(row.channels)[0] if row.channels else "LETTER"
        purpose = sorted(row.purposes)[0] if row.purposes else "DEMAND"
        cases += [(row.name, row.profile, channel, purpose, v) for v in row.variables]
    return cases


@pytest.mark.parametrize(
    ("rule", "profile", "channel", "purpose", "variable"),
    _cases(),
    ids=[f"{c[0]}-{c[4]}" for c in _cases()],
)
def test_a_text_lacking_one_required_variable_is_refused_naming_it(
    rule: str, profile: str, channel: str, purpose: str, variable: str
) -> None:
    wanted = required_variables(profile, ContactChannel(channel), TemplatePurpose(purpose))
    assert variable in wanted, rule
    complete = payload(channel, purpose, [profile])
    assert read(complete).profiles == {profile}  # everything printed: accepted
    lacking = [v for v in wanted if v != variable]
    text: dict[str, str] = {"body": printing(lacking, "Hello. ")}
    if channel != "SMS":
        text["subject"] = "Notice"
    error = missing(payload(channel, purpose, [profile], {"zh": text}))
    assert error.message == (
        f"the zh text lacks what {profile} requires: {variable} ({VARIABLES[variable]})"
    )
    assert error.field == "payload.texts.zh"


def test_a_cn_template_without_the_collectors_identity_is_refused() -> None:
    text = {"body": "{{ lender_name }}：{{ collector_name }}提醒您还款。"}
    error = missing(payload(profiles=["CN"], texts={"zh": text}))
    assert error.message == (
        "the zh text lacks what CN requires: collector_id (the collector's identity)"
    )
    assert isinstance(error, ContentRuleBroken)


def test_a_us_sms_or_email_needs_opt_out_instructions_and_a_letter_does_not() -> None:
    base = ["lender_name", "collector_name", "debt_collector_disclosure"]
    for channel in ("SMS", "EMAIL"):
        text: dict[str, str] = {"body": printing(base)}
        if channel == "EMAIL":
            text["subject"] = SUBJECT
        error = missing(payload(channel, profiles=["US_REG_F"], texts={"en": text}))
        assert error.message == (
            "the en text lacks what US_REG_F requires: opt_out_instructions "
            f"({VARIABLES['opt_out_instructions']})"
        )
        text["body"] = printing([*base, "opt_out_instructions"])
        assert read(payload(channel, profiles=["US_REG_F"], texts={"en": text}))
    letter = {"subject": SUBJECT, "body": printing(base)}
    assert read(payload("LETTER", "DEMAND", ["US_REG_F"], {"en": letter}))


def test_a_template_listing_only_cn_needs_no_opt_out() -> None:
    text = {"body": printing(["lender_name", "collector_name", "collector_id"])}
    assert read(payload("SMS", profiles=["CN"], texts={"zh": text, "en": text}))


def test_a_us_validation_letter_needs_every_item_and_a_demand_letter_does_not() -> None:
    wanted = required_variables("US_REG_F", ContactChannel.LETTER, TemplatePurpose.VALIDATION)
    assert wanted == (
        "borrower_name",
        "borrower_address",
        "lender_name",
        "collector_name",
        "collector_address",
        "balance",
        "account_number",
        "itemization_date",
        "itemization_amount",
        "interest_since",
        "fees_since",
        "payments_since",
        "dispute_deadline",
        "dispute_instructions",
        "debt_collector_disclosure",
    )
    short = {"subject": SUBJECT, "body": printing(["collector_name", "debt_collector_disclosure"])}
    assert read(payload("LETTER", "DEMAND", ["US_REG_F"], {"en": short}))
    error = missing(payload("LETTER", "VALIDATION", ["US_REG_F"], {"en": short}))
    assert error.message.startswith("the en text lacks what US_REG_F requires: borrower_name (")
    assert [v for v in VARIABLES if f"{v} (" in error.message] == [
        v for v in wanted if v not in {"collector_name", "lender_name", "debt_collector_disclosure"}
    ]


def test_a_validation_notice_states_the_whole_debt_now_not_only_the_overdue_amount() -> None:
    wanted = required_variables("US_REG_F", ContactChannel.LETTER, TemplatePurpose.VALIDATION)
    assert "balance" in wanted and "amount_due" not in wanted
    assert "collector_address" in wanted and "borrower_address" in wanted
    assert "collector_address" not in required_variables(
        "US_REG_F", ContactChannel.LETTER, TemplatePurpose.DEMAND
    )


@pytest.mark.parametrize("channel", ["SMS", "EMAIL", "LETTER"])
@pytest.mark.parametrize("purpose", ["REMINDER", "DEMAND", "VALIDATION", "OFFER"])
def test_every_us_notice_needs_the_debt_collector_disclosure_and_a_cn_one_does_not(
    channel: str, purpose: str
) -> None:
    given = ContactChannel(channel), TemplatePurpose(purpose)
    assert "debt_collector_disclosure" in required_variables("US_REG_F", *given)
    assert "debt_collector_disclosure" not in required_variables("CN", *given)


def test_every_language_is_checked_against_every_profile_in_one_message() -> None:
    complete = printing(BOTH_REMINDER)
    texts = {"zh": {"body": complete}, "en": {"body": printing(["lender_name"])}}
    error = missing(payload(profiles=["CN", "US_REG_F"], texts=texts))
    assert error.message == (
        "the en text lacks what CN requires: collector_name (the collector's name), "
        "collector_id (the collector's identity); the en text lacks what US_REG_F requires: "
        "collector_name (the collector's name), opt_out_instructions "
        f"({VARIABLES['opt_out_instructions']}), debt_collector_disclosure "
        f"({VARIABLES['debt_collector_disclosure']})"
    )
    assert error.field == "payload.texts.en"


def test_the_subject_counts_as_part_of_the_text() -> None:
    text = {"subject": "{{ lender_name }}", "body": printing(["collector_name", "collector_id"])}
    assert read(payload("LETTER", "DEMAND", ["CN"], {"zh": text}))


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ("{% if agency_name %}{{ collector_id }}{% endif %}", False),
        ("{% if agency_name %}{{ collector_id }}{% else %}x{% endif %}", False),
        ("{% if agency_name %}{{ collector_id }}{% else %}{{ collector_id }}{% endif %}", True),
        (
            "{% if agency_name %}{{ collector_id }}{% elif hotline %}x"
            "{% else %}{{ collector_id }}{% endif %}",
            False,
        ),
        # Every branch, each {% elif %} included, prints it: it is printed whatever holds.
        (
            "{% if agency_name %}{{ collector_id }}{% elif hotline %}{{ collector_id|upper }}"
            "{% else %}{{ collector_id }}{% endif %}",
            True,
        ),
        (
            "{% if agency_name %}{{ collector_id }}{% elif hotline %}{{ collector_id }}"
            "{% elif borrower_name %}{{ 'ID ' ~ collector_id }}{% else %}{{ collector_id }}"
            "{% endif %}",
            True,
        ),
        (
            "{% if agency_name %}{{ collector_id }}{% elif hotline %}{{ collector_id }}"
            "{% elif borrower_name %}x{% else %}{{ collector_id }}{% endif %}",
            False,
        ),
        (
            "{% if agency_name %}{{ collector_id }}{% elif hotline %}{{ collector_id }}{% endif %}",
            False,
        ),
        ("{{ collector_id if agency_name else hotline }}", False),
        ("{{ collector_id if agency_name else collector_id|upper }}", True),
        ("{{ collector_id if agency_name }}", False),
        ("{{ 'ID ' ~ collector_id|trim }}", True),
        ("{{ collector_id == hotline }}", False),
    ],
)
def test_a_required_variable_counts_only_where_it_is_printed_whatever_the_conditions(
    body: str, accepted: bool
) -> None:
    text = {"body": printing(["lender_name", "collector_name"]) + " " + body}
    given = payload(profiles=["CN"], texts={"zh": text})
    if accepted:
        assert read(given)
    else:
        assert "collector_id" in missing(given).message


def test_check_required_content_checks_a_template_built_in_code() -> None:
    template = Template(
        "T1",
        "1",
        ContactChannel.SMS,
        TemplatePurpose.REMINDER,
        frozenset({"CN"}),
        {"zh": TemplateText("{{ lender_name }} {{ collector_name }}")},
    )
    with pytest.raises(TemplateContentMissing):
        check_required_content(template)


def test_the_registry_keeps_the_code_of_missing_content_at_proposal() -> None:
    text = {"body": printing(["lender_name", "collector_name"])}
    with pytest.raises(TemplateContentMissing) as caught:
        registry.validate(RuleSetKind.NOTICE_TEMPLATE, "NEW_REMINDER", payload(texts={"zh": text}))
    assert caught.value.code == ErrorCode.TEMPLATE_CONTENT_MISSING
    assert caught.value.field == "payload.texts.zh"
    with pytest.raises(ChangeInvalid) as bad_name:
        registry.validate(RuleSetKind.NOTICE_TEMPLATE, "new-reminder", payload())
    assert bad_name.value.field == "name"


# ---- The payload's fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "PHONE"}, "payload.channel"),
        ({"channel": None}, "payload.channel"),
        ({"purpose": "THREAT"}, "payload.purpose"),
        ({"profiles": []}, "payload.profiles"),
        ({"profiles": "CN"}, "payload.profiles"),
        ({"profiles": ["CN", "UK"]}, "payload.profiles[1]"),
        ({"profiles": ["CN", "CN"]}, "payload.profiles[1]"),
        ({"texts": {}}, "payload.texts"),
        ({"texts": []}, "payload.texts"),
        ({"texts": {"fr": {"body": "x"}}}, "payload.texts"),
        ({"texts": {"zh": "x"}}, "payload.texts.zh"),
        ({"texts": {"zh": {"body": "   "}}}, "payload.texts.zh.body"),
        ({"texts": {"zh": {"body": 5}}}, "payload.texts.zh.body"),
        ({"texts": {"zh": {"body": "a\x00b"}}}, "payload.texts.zh.body"),
        ({"texts": {"zh": {"body": "x", "subject": "s"}}}, "payload.texts.zh.subject"),
        ({"texts": {"zh": {"body": "x", "footer": "s"}}}, "payload.texts.zh.footer"),
        ({"version": "2026 1"}, "payload.version"),
        ({"version": ""}, "payload.version"),
        ({"bogus": 1}, "payload.bogus"),
    ],
)
def test_a_malformed_payload_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    assert refused({**payload(), **change}).field == field


def test_an_email_or_letter_needs_a_one_line_subject() -> None:
    for channel in ("EMAIL", "LETTER"):
        body = printing(["lender_name", "collector_name", "collector_id"])
        assert refused(payload(channel, texts={"zh": {"body": body}})).field == (
            "payload.texts.zh.subject"
        )
        for line_break in ("\n", "\r", "\u2028", "\x85"):
            two_lines = {"body": body, "subject": f"a{line_break}b"}
            error = refused(payload(channel, texts={"zh": two_lines}))
            assert (error.field, error.message) == (
                "payload.texts.zh.subject",
                "payload.texts.zh.subject must be one line",
            )


def test_an_sms_body_is_at_most_500_characters_of_source_and_a_letter_20000() -> None:
    required = printing(["lender_name", "collector_name", "collector_id"])
    fill = MAX_SMS_BODY - len(required)
    assert read(payload(texts={"zh": {"body": required + "x" * fill}}))
    error = refused(payload(texts={"zh": {"body": required + "x" * (fill + 1)}}))
    assert error.field == "payload.texts.zh.body"
    assert "500" in error.message
    letter = {"subject": SUBJECT, "body": required + "x" * (MAX_BODY - len(required))}
    assert read(payload("LETTER", "DEMAND", texts={"zh": letter}))
    letter["body"] += "x"
    assert refused(payload("LETTER", "DEMAND", texts={"zh": letter})).field == (
        "payload.texts.zh.body"
    )


def test_a_syntax_error_is_refused_naming_the_text_and_the_line() -> None:
    body = "{{ lender_name }}\n{{ collector_name }} {{ collector_id }}\n{% if agency_name %}"
    error = refused(payload(texts={"zh": {"body": "ok"}, "en": {"body": body}}))
    assert error.field == "payload.texts.en.body"
    assert error.message.startswith("payload.texts.en.body line 3: ")
    subject = {"subject": "{{ lender_name", "body": "x"}
    error = refused(payload("EMAIL", texts={"zh": subject}))
    assert error.field == "payload.texts.zh.subject"
    assert error.message.startswith("payload.texts.zh.subject line 1: ")


def test_an_unknown_variable_is_refused_naming_it_and_its_line() -> None:
    body = "{{ lender_name }} {{ collector_name }}\n{{ collector_id }} {{ interest_rate }}"
    error = refused(payload(texts={"zh": {"body": body}}))
    assert error.field == "payload.texts.zh.body"
    assert error.message.startswith(
        "payload.texts.zh.body line 2: unknown variable 'interest_rate'"
    )


@pytest.mark.parametrize("name", ["lipsum", "range", "dict", "cycler", "joiner", "namespace"])
def test_a_jinja_global_is_an_unknown_variable(name: str) -> None:
    body = printing(["lender_name", "collector_name", "collector_id"]) + "\n{{ " + name + " }}"
    error = refused(payload(texts={"zh": {"body": body}}))
    assert error.field == "payload.texts.zh.body"
    assert error.message.startswith(f"payload.texts.zh.body line 2: unknown variable {name!r}")
    condition = printing(["lender_name", "collector_name", "collector_id"])
    condition += "{% if " + name + " %}x{% endif %}"
    assert refused(payload(texts={"zh": {"body": condition}})).field == "payload.texts.zh.body"
    assert name not in SANDBOX.globals


@pytest.mark.parametrize(
    ("construct", "named"),
    [
        ("{{ ''.__class__.__mro__ }}", "attribute access"),
        ("{{ borrower_name.__class__ }}", "attribute access"),
        ("{{ borrower_name['x'] }}", "item access"),
        ("{{ borrower_name.upper() }}", "calls"),
        ("{{ range(10) }}", "calls"),
        ("{% for c in borrower_name %}{{ c }}{% endfor %}", "{% for %} loops"),
        ("{% macro m() %}x{% endmacro %}", "macros"),
        ("{% include 'other' %}", "includes"),
        ("{% import 'other' as o %}", "imports"),
        ("{% from 'other' import x %}", "imports"),
        ("{% extends 'base' %}", "{% extends %}"),
        ("{% set x = 1 %}", "{% set %}"),
        ("{% set x %}y{% endset %}", "{% set %}"),
        ("{% with x = 1 %}{% endwith %}", "{% with %}"),
        ("{% filter upper %}x{% endfilter %}", "{% filter %} blocks"),
        ("{{ 'a' * 100000000 }}", "Mul expressions"),
        ("{{ 9 ** 9 ** 9 }}", "Pow expressions"),
        ("{{ borrower_name is defined }}", "tests (is …)"),
        ("{{ [1, 2] }}", "List expressions"),
        ("{{ borrower_name|replace('a', 'b') }}", "the filter 'replace'"),
        ("{{ borrower_name|attr('x') }}", "the filter 'attr'"),
        ("{{ borrower_name < hotline }}", "the comparison 'lt'"),
    ],
)
def test_only_the_safe_subset_of_jinja_is_allowed(construct: str, named: str) -> None:
    body = printing(["lender_name", "collector_name", "collector_id"]) + "\n" + construct
    error = refused(payload(texts={"zh": {"body": body}}))
    assert error.field == "payload.texts.zh.body"
    assert error.message.startswith("payload.texts.zh.body line 2: ")
    assert named in error.message


def test_a_filter_takes_no_arguments() -> None:
    body = printing(["lender_name", "collector_name", "collector_id"]) + "{{ hotline|trim('x') }}"
    assert "takes no arguments" in refused(payload(texts={"zh": {"body": body}})).message


# ---- What is approved renders: nesting, size, text ----------------------------------------------

REQUIRED = printing(["lender_name", "collector_name", "collector_id"])


def letter(body: str) -> dict[str, Any]:
    """A CN demand letter with this body (a letter's body may be 20,000 characters long)."""
    return payload("LETTER", "DEMAND", texts={"zh": {"subject": SUBJECT, "body": body}})


def nested_ifs(levels: int) -> str:
    return "{% if hotline %}" * levels + "x" + "{% endif %}" * levels


def depth(node: Any) -> int:
    return 1 + max((depth(child) for child in node.iter_child_nodes()), default=0)


def size(node: Any) -> int:
    return 1 + sum(size(child) for child in node.iter_child_nodes())


def test_a_text_nests_at_most_max_depth_levels() -> None:
    deepest = REQUIRED + nested_ifs(MAX_DEPTH - 3)  # Template, Output and its text around them
    assert depth(SANDBOX.parse(deepest)) == MAX_DEPTH
    assert read(letter(deepest))
    deeper = REQUIRED + "\n" + nested_ifs(MAX_DEPTH - 2)
    assert depth(SANDBOX.parse(deeper)) == MAX_DEPTH + 1
    error = refused(letter(deeper))
    assert error.field == "payload.texts.zh.body"
    assert (
        error.message
        == f"payload.texts.zh.body line 2: nested too deeply (at most {MAX_DEPTH} levels)"
    )


@pytest.mark.parametrize(
    "construct",
    [
        nested_ifs(99),  # parses, but Python cannot compile a hundred nested blocks
        nested_ifs(400),  # deeper than the parser's stack
        "{{ " + "(" * 3000 + "hotline" + ")" * 3000 + " }}",
        "{{ " + "not " * 3000 + "hotline }}",
        "{{ " + "not " * 100 + "hotline }}",
        "{% if " + " and ".join(["hotline"] * 40) + " %}x{% endif %}",
        "{{ hotline" + "|trim" * 40 + " }}",
    ],
    ids=["99-ifs", "400-ifs", "3000-parentheses", "3000-nots", "100-nots", "40-ands", "40-filters"],
)
def test_a_text_nested_too_deeply_is_refused_not_failed(construct: str) -> None:
    error = refused(letter(REQUIRED + construct))
    assert error.field == "payload.texts.zh.body"
    assert f"nested too deeply (at most {MAX_DEPTH} levels)" in error.message


def test_a_text_holds_at_most_max_nodes_elements() -> None:
    base = size(SANDBOX.parse(REQUIRED + "{{ as_of }}"))  # one more Concat below

    def joined(names: int) -> str:
        return REQUIRED + "{{ as_of" + "~as_of" * (names - 1) + " }}"

    most = joined(MAX_NODES - base)
    assert size(SANDBOX.parse(most)) == MAX_NODES and len(most) <= MAX_BODY
    assert read(letter(most))
    error = refused(letter(joined(MAX_NODES - base + 1)))
    assert (error.field, error.message) == (
        "payload.texts.zh.body",
        f"payload.texts.zh.body: too long a template (at most {MAX_NODES:,} elements)",
    )


@pytest.mark.parametrize("where", ["body", "subject"])
def test_text_that_is_not_utf8_is_refused(where: str) -> None:
    text = {"subject": SUBJECT, "body": REQUIRED}
    text[where] += "\ud800"  # a lone surrogate: JSON can carry it, UTF-8 cannot
    error = refused(payload("EMAIL", texts={"zh": text}))
    assert (error.field, error.message) == (
        f"payload.texts.zh.{where}",
        f"payload.texts.zh.{where} is not valid text",
    )


def test_a_template_built_in_code_is_checked_for_what_breaks_rendering_too() -> None:
    template = Template(
        "T1",
        "1",
        ContactChannel.SMS,
        TemplatePurpose.REMINDER,
        frozenset({"CN"}),
        {"zh": TemplateText(REQUIRED + nested_ifs(99))},
    )
    with pytest.raises(ChangeInvalid, match="nested too deeply"):
        check_required_content(template)
    surrogate = {"zh": TemplateText(REQUIRED + "\udc80")}
    with pytest.raises(ChangeInvalid, match="is not valid text"):
        check_required_content(Template("T1", "1", *_reminder(), surrogate))


def _reminder() -> tuple[ContactChannel, TemplatePurpose, frozenset[str]]:
    return ContactChannel.SMS, TemplatePurpose.REMINDER, frozenset({"CN"})


@pytest.mark.parametrize("name", list(DEFAULT_TEMPLATES))
def test_every_checked_in_text_is_within_the_limits_with_room_to_spare(name: str) -> None:
    for text in DEFAULT_TEMPLATES[name].texts.values():
        for source in (text.body, text.subject or ""):
            tree = SANDBOX.parse(source)
            assert depth(tree) <= MAX_DEPTH // 2 and size(tree) <= MAX_NODES // 20


# ---- The guide ----------------------------------------------------------------------------------


def _between(start: str, end: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
    assert text.count(start) == 1 and text.count(end) == 1, start
    return text.split(start)[1].split(end)[0]


def test_the_api_guide_shows_the_requirements_and_the_catalogue_as_the_code_has_them() -> None:
    shown = _between("<!-- template-requirements:start -->\n", "<!-- template-requirements:end -->")
    assert shown == render_requirements_markdown()
    shown = _between("<!-- template-variables:start -->\n", "<!-- template-variables:end -->")
    assert shown == render_variables_markdown()
