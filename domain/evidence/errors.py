"""Refusals of evidence packs."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound


class EvidencePackNotFound(NotFound):
    """No such pack, or one the caller may not download (the two look the same)."""

    code = ErrorCode.EVIDENCE_PACK_NOT_FOUND
