"""What protections do, as data: one row per protection rule (an open complaint or dispute on
the case, each borrower flag), with its effects.

``PROTECTIONS`` is the one table; the conduct engine (through ``domain.contacts.conduct``), the
life cycle's ``blocked_actions`` (through ``Standing.blocks`` and ``Standing.forbidden``), the
store's SQL clauses for work over many rows (``store.protections_queries``) and the API guide
all read it. A rule's name is the conduct rule a refusal names: ``OPEN_COMPLAINT``,
``OPEN_DISPUTE``, ``CEASE_COMMUNICATION``, and ``FLAG_<KIND>`` for the other flags.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from domain.complaints.model import ComplaintKind
from domain.conduct.profiles import RuleName, flag_rule
from domain.flags.model import BorrowerFlagKind
from domain.lifecycle.table import Action, Standing


class Effect(enum.StrEnum):
    STOP_CONTACT = "STOP_CONTACT"  # no outbound contact on any channel (inbound stays allowed)
    LETTERS_ONLY = "LETTERS_ONLY"  # outbound contact by LETTER only
    REDUCED_ATTEMPTS = "REDUCED_ATTEMPTS"  # a lower DAILY_ATTEMPTS limit (``attempt_limit``)
    NO_AGENCY_PLACEMENT = "NO_AGENCY_PLACEMENT"  # placeWithAgency refused (Action.PLACE)
    NO_ESCALATION = "NO_ESCALATION"  # no move to a later stage, legal included (Action.ESCALATE)
    NO_ALLOCATION = "NO_ALLOCATION"  # allocateCases leaves the case (assignCase still may)
    PAUSE_CLOCK = "PAUSE_CLOCK"  # the collection clock stands still (never DPD)


# The work each effect forbids through the life cycle's ``blocked_actions``.
EFFECT_ACTIONS: Mapping[Effect, Action] = MappingProxyType(
    {
        Effect.NO_AGENCY_PLACEMENT: Action.PLACE,
        Effect.NO_ESCALATION: Action.ESCALATE,
        Effect.NO_ALLOCATION: Action.ALLOCATE,
    }
)


@dataclass(frozen=True)
class ProtectionRule:
    """One row of the table."""

    rule: str
    effects: frozenset[Effect]
    explanation: str
    attempt_limit: int | None = None  # with REDUCED_ATTEMPTS: unanswered attempts per day
    evidence_required: bool = False  # flags: flagBorrower needs an evidenceRef
    review_required: bool = True  # flags: flagBorrower needs a reviewOn

    def __post_init__(self) -> None:
        if (self.attempt_limit is not None) != (Effect.REDUCED_ATTEMPTS in self.effects):
            raise ValueError(f"{self.rule}: REDUCED_ATTEMPTS goes with an attempt limit")


_HOLD = frozenset(
    {
        Effect.STOP_CONTACT,
        Effect.NO_AGENCY_PLACEMENT,
        Effect.NO_ESCALATION,
        Effect.NO_ALLOCATION,
        Effect.PAUSE_CLOCK,
    }
)

COMPLAINT_RULES: Mapping[ComplaintKind, ProtectionRule] = MappingProxyType(
    {
        ComplaintKind.COMPLAINT: ProtectionRule(
            RuleName.OPEN_COMPLAINT,
            _HOLD,
            "a complaint on the case is open: collection pauses until it is resolved",
        ),
        ComplaintKind.DISPUTE: ProtectionRule(
            RuleName.OPEN_DISPUTE,
            _HOLD,
            "a dispute of the debt is open: collection stops until it is resolved",
        ),
    }
)

E = Effect
FLAG_RULES: Mapping[BorrowerFlagKind, ProtectionRule] = MappingProxyType(
    {
        BorrowerFlagKind.HARDSHIP: ProtectionRule(
            flag_rule(BorrowerFlagKind.HARDSHIP),
            frozenset({E.REDUCED_ATTEMPTS, E.NO_ESCALATION, E.PAUSE_CLOCK}),
            "the borrower is in financial hardship",
            attempt_limit=2,
        ),
        BorrowerFlagKind.SERIOUS_ILLNESS: ProtectionRule(
            flag_rule(BorrowerFlagKind.SERIOUS_ILLNESS),
            frozenset({E.LETTERS_ONLY, E.NO_AGENCY_PLACEMENT}),
            "the borrower is seriously ill: letters only",
            evidence_required=True,
        ),
        BorrowerFlagKind.DECEASED: ProtectionRule(
            flag_rule(BorrowerFlagKind.DECEASED),
            frozenset({E.STOP_CONTACT, E.NO_AGENCY_PLACEMENT, E.NO_ESCALATION, E.NO_ALLOCATION}),
            "the borrower is deceased: the estate is dealt with by hand",
            evidence_required=True,
            review_required=False,
        ),
        BorrowerFlagKind.MILITARY_SERVICE: ProtectionRule(
            flag_rule(BorrowerFlagKind.MILITARY_SERVICE),
            frozenset({E.NO_AGENCY_PLACEMENT, E.NO_ESCALATION}),
            "the borrower is on military service: no agency, no legal action",
            evidence_required=True,
        ),
        BorrowerFlagKind.BANKRUPTCY: ProtectionRule(
            flag_rule(BorrowerFlagKind.BANKRUPTCY),
            frozenset({E.STOP_CONTACT, E.NO_AGENCY_PLACEMENT, E.NO_ESCALATION, E.NO_ALLOCATION}),
            "the borrower is in bankruptcy: claims go through the proceedings",
            evidence_required=True,
        ),
        BorrowerFlagKind.VULNERABLE: ProtectionRule(
            flag_rule(BorrowerFlagKind.VULNERABLE),
            frozenset({E.REDUCED_ATTEMPTS, E.NO_AGENCY_PLACEMENT}),
            "the borrower is elderly or vulnerable",
            attempt_limit=2,
        ),
        BorrowerFlagKind.CEASE_COMMUNICATION: ProtectionRule(
            RuleName.CEASE_COMMUNICATION,
            frozenset({E.STOP_CONTACT, E.NO_ALLOCATION}),
            "the borrower asked in writing that communication cease",
            evidence_required=True,
        ),
    }
)
del E
assert set(FLAG_RULES) == set(BorrowerFlagKind), "every flag has exactly one row"
assert set(COMPLAINT_RULES) == set(ComplaintKind), "every complaint kind has exactly one row"

# Every row, complaints first, then flags in their enum's order (the order checks are reported).
PROTECTIONS: tuple[ProtectionRule, ...] = (*COMPLAINT_RULES.values(), *FLAG_RULES.values())


def flags_with(effect: Effect) -> frozenset[BorrowerFlagKind]:
    """Returns the flags whose row has ``effect`` (the SQL clauses select by these)."""
    return frozenset(kind for kind, row in FLAG_RULES.items() if effect in row.effects)


def complaint_kinds_with(effect: Effect) -> frozenset[ComplaintKind]:
    """Returns the complaint kinds whose open complaints have ``effect``."""
    return frozenset(kind for kind, row in COMPLAINT_RULES.items() if effect in row.effects)


def action_effects(action: Action) -> frozenset[Effect]:
    """Returns the effects that forbid ``action``."""
    return frozenset(effect for effect, act in EFFECT_ACTIONS.items() if act is action)


@dataclass(frozen=True)
class Protection:
    """The protection rules in force on a case: its open complaints' and its borrower's active
    flags', in the table's order (empty: none)."""

    rows: tuple[ProtectionRule, ...] = ()

    def _with(self, effect: Effect) -> list[ProtectionRule]:
        return [row for row in self.rows if effect in row.effects]

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(row.rule for row in self.rows)

    @property
    def blocks(self) -> tuple[tuple[str, str], ...]:
        """The cease conditions: (rule, explanation) of each rule that stops contact."""
        return tuple((row.rule, row.explanation) for row in self._with(Effect.STOP_CONTACT))

    @property
    def letters_only(self) -> tuple[tuple[str, str], ...]:
        """(rule, explanation) of each rule that allows outbound contact by letter only."""
        return tuple((row.rule, row.explanation) for row in self._with(Effect.LETTERS_ONLY))

    @property
    def attempt_limit(self) -> tuple[int, str] | None:
        """The lowest reduced daily attempt limit and the rule that sets it (None: none)."""
        rows = self._with(Effect.REDUCED_ATTEMPTS)
        limits = [(row.attempt_limit, row.rule) for row in rows if row.attempt_limit is not None]
        return min(limits) if limits else None

    @property
    def forbidden(self) -> tuple[tuple[Action, str, str], ...]:
        """(action, rule, explanation) of the work the rules forbid."""
        return tuple(
            (action, row.rule, row.explanation)
            for row in self.rows
            for effect, action in EFFECT_ACTIONS.items()
            if effect in row.effects
        )

    @property
    def pauses_clock(self) -> bool:
        return bool(self._with(Effect.PAUSE_CLOCK))

    def protect(self, standing: Standing) -> Standing:
        """Returns the standing with these protections' cease conditions and forbidden work."""
        if not self.rows:
            return standing
        return replace(
            standing,
            blocks=(*standing.blocks, *self.blocks),
            forbidden=(*standing.forbidden, *self.forbidden),
        )


NO_PROTECTION = Protection()


def protection_of(
    open_complaints: Iterable[ComplaintKind | str], flags: Iterable[BorrowerFlagKind | str]
) -> Protection:
    """Returns the protection of a case from the kinds of its open complaints and its
    borrower's active flags (each rule once, in the table's order)."""
    complaints = {ComplaintKind(k) for k in open_complaints}
    active = {BorrowerFlagKind(f) for f in flags}
    rows = [row for kind, row in COMPLAINT_RULES.items() if kind in complaints]
    rows += [row for kind, row in FLAG_RULES.items() if kind in active]
    return Protection(tuple(rows))


def render_markdown() -> str:
    """Returns the table as Markdown (the API guide embeds it between markers; a test
    compares)."""
    lines = [
        "| protection | rule named | effects | attempts per day | evidence | review date |",
        "|---|---|---|---|---|---|",
    ]
    sources = [(f"open {k.value}", row) for k, row in COMPLAINT_RULES.items()]
    sources += [(f"flag {k.value}", row) for k, row in FLAG_RULES.items()]
    for source, row in sources:
        effects = ", ".join(f"`{e}`" for e in Effect if e in row.effects)
        is_flag = source.startswith("flag")
        evidence = ("required" if row.evidence_required else "optional") if is_flag else "—"
        review = ("required" if row.review_required else "optional") if is_flag else "—"
        limit = str(row.attempt_limit) if row.attempt_limit is not None else "—"
        lines.append(f"| {source} | `{row.rule}` | {effects} | {limit} | {evidence} | {review} |")
    return "\n".join(lines) + "\n"
