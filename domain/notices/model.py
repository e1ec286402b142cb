"""Notices and their templates, as data.

A template is a rule set (``RuleSetKind.NOTICE_TEMPLATE``, named by the template) authored and
approved through maker–checker: one text per language, for one channel and purpose, checked
against the required content of every conduct profile it serves
(``domain.notices.templates``). A notice is one message a strategy step queued for a case's
borrower (or guarantor): QUEUED in the outbox until ``arrears outbox`` hands it to the gateway
(SENT), then DELIVERED or FAILED as the gateway's receipts say; SUPPRESSED when a protection or
conduct rule (named) stopped it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from domain.contacts.model import ContactChannel


class NoticeStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"


class TemplatePurpose(enum.StrEnum):
    """What a template is for: the content a profile requires depends on it (Reg F's
    validation notice items only in a VALIDATION notice)."""

    REMINDER = "REMINDER"
    DEMAND = "DEMAND"
    VALIDATION = "VALIDATION"
    OFFER = "OFFER"


# The channels a notice goes by.
NOTICE_CHANNELS = frozenset({ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.LETTER})
# The languages a template may carry a text in (a portfolio's ``language`` picks one).
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class TemplateText:
    """A template's text in one language (``subject``: e-mails and letters only)."""

    body: str
    subject: str | None = None


@dataclass(frozen=True)
class Template:
    name: str
    version: str  # the version's label, unique within the template
    channel: ContactChannel
    purpose: TemplatePurpose
    profiles: frozenset[str]  # the conduct profiles whose portfolios may use it
    texts: Mapping[str, TemplateText]  # by language


class NoticeRule(enum.StrEnum):
    """Why a notice was suppressed or failed, where no protection or conduct rule names it
    (those keep their own names: ``FLAG_DECEASED``, ``OPEN_COMPLAINT``, ``OPTED_OUT``…)."""

    NO_CONTACT_POINT = "NO_CONTACT_POINT"  # the party has no usable point of the channel's kind
    NO_APPROVED_TEMPLATE = "NO_APPROVED_TEMPLATE"  # none for the channel, profile and language
    GATEWAY_REJECTED = "GATEWAY_REJECTED"  # the gateway refused it for good (or retries ran out)
    RENDER_FAILED = "RENDER_FAILED"  # its template version failed to render it (at send)
    NOTHING_OWED = "NOTHING_OWED"  # the case owes nothing any more (at send)
    STALE = "STALE"  # queued too long ago to say what it says (at send)
