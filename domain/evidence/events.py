"""Events of evidence packs: a case event for the timeline (not a decision for the core)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class EvidencePackGenerated(CaseEvent):
    pack_id: int
    sha256: str  # the pack's own hash: the SHA-256 of its manifest
    clear: bool  # whether personal data in it is in clear
