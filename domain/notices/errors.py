"""Refusals and failures of notice templates and notices."""

from __future__ import annotations

from domain.changes.errors import ContentRuleBroken
from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class TemplateContentMissing(ContentRuleBroken):
    """A template's text lacks what a conduct profile it serves requires (the message names
    each missing variable, the language and the profile): it cannot be proposed or approved."""

    code = ErrorCode.TEMPLATE_CONTENT_MISSING


class TemplateNotRenderable(Exception):
    """A template cannot render a notice for this context: no text in the context's language,
    or its text failed at render time. The outbox records the notice's ``rule``:
    NO_APPROVED_TEMPLATE without a text (NoTemplateText), RENDER_FAILED otherwise."""

    def __init__(self, template: str, language: str, reason: str) -> None:
        super().__init__(f"template {template} cannot render a {language} notice: {reason}")
        self.template = template
        self.language = language


class NoTemplateText(TemplateNotRenderable):
    """The template has no text in the context's language."""


# ---- Notices and their delivery receipts (recordNoticeDelivery) ---------------------------------


class NoticeNotFound(NotFound):
    code = ErrorCode.NOTICE_NOT_FOUND


class NoticeStatusInvalid(RuleViolation):
    """A receipt contradicts the notice's final status, or the notice was never sent."""

    code = ErrorCode.NOTICE_STATUS_INVALID


class NoticeReceiptInvalid(InvalidInput):
    """A receipt that cannot be true (delivered in the future, or before the notice was
    queued) or cannot be kept (a provider reference too long)."""

    code = ErrorCode.INVALID_INPUT
