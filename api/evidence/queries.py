"""``evidencePack``: a case's evidence pack generated for a stated reason, stored for download,
and audited with the reason in the same transaction as its storage."""

from __future__ import annotations

import json
from collections.abc import Mapping

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from api.common.ids import pk_of, to_global_id
from api.context import Context, Info
from api.errors import ApiError
from api.evidence.parts import parts_of
from api.evidence.types import EvidencePack
from api.permissions import needs
from authz.masking import depends_on_legal_stage
from domain.cases.errors import CaseNotFound
from domain.cases.model import Case
from domain.errors import DomainError, InvalidInput, stated_reason
from domain.evidence import pack as evidence
from domain.evidence.events import EvidencePackGenerated
from store import evidence_queries, loaders
from store.audit import AuditAction, Outcome

PERMISSION = "evidence:generate"
FIELD = "evidencePack"


class Refusal(ApiError):
    """A query's refusal: a GraphQL error whose code (and field) are the domain error's."""

    def __init__(self, error: DomainError) -> None:
        self.code = str(error.code)
        super().__init__(error.message)
        if error.field:
            self.extensions = {**(self.extensions or {}), "field": error.field}


@strawberry.type
class EvidenceQuery:
    @strawberry.field(
        description="Generates a case's evidence pack (a zip of its contract data, schedule, "
        "payments, contact log, notices, promises, restructurings and legal record, with a "
        "manifest of SHA-256 hashes) for a stated reason, which the audit trail records. "
        "Personal data inside is in clear only if you see it in clear. A case you cannot see: "
        "an error with code CASE_NOT_FOUND; an empty reason: REASON_REQUIRED. One per "
        "operation: an operation asking for more is refused whole (INVALID_INPUT).",
        extensions=needs(PERMISSION),
    )
    async def evidence_pack(
        self, info: Info, case_id: strawberry.ID, reason_text: str
    ) -> EvidencePack:
        ctx = info.context
        pk = pk_of(case_id, "Case")
        try:
            # Each pack is generated in a transaction of its own: one request generates one, so
            # it never holds two connections (an operation with several is refused whole).
            if packs_asked(info.operation.selection_set, info._raw_info.fragments) > 1:
                raise InvalidInput(f"ask for one {FIELD} per request", field=FIELD)
            case = await ctx.cases.load(pk) if pk is not None else None
            if case is None or case.id is None:
                raise CaseNotFound("no such case", field="caseId")
            reason = stated_reason(
                reason_text, "reasonText", "state why the evidence pack is needed"
            )
            return await _generate(ctx, case, reason)
        except DomainError as error:
            await ctx.release()
            await ctx.audit.refused(
                AuditAction.EVIDENCE_GENERATE, error, resource_type="Case", resource_id=pk
            )
            raise Refusal(error) from None


def packs_asked(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> int:
    """How many ``evidencePack`` fields an operation's root selection asks for, through its
    fragments (aliases counted each; ``@skip``/``@include`` not evaluated: a field skipped still
    counts)."""
    count = 0
    for node in selections.selections:
        if isinstance(node, FieldNode):
            count += node.name.value == FIELD
        elif isinstance(node, InlineFragmentNode):
            count += packs_asked(node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            count += packs_asked(fragments[node.name.value].selection_set, fragments)
    return count


async def _generate(ctx: Context, case: Case, reason: str) -> EvidencePack:
    """Reads the case's record in the transaction that stores its pack (the case locked, so no
    change lands between the two, nor between the masking decision and the record), and writes
    the timeline event and the audit entry with it."""
    assert case.id is not None and ctx.viewer.id is not None
    notes = ctx.may_read_notes()
    ctx.audit.saw_cases([case.id])
    await ctx.release()
    now = ctx.clock.now()
    async with ctx.unit_of_work() as uow:
        locked = await uow.cases.get(case.id)
        borrower = await uow.borrowers.get(case.borrower_id)
        record = await evidence_queries.record_of(uow.session, case.id)
        if locked is None or borrower is None or record is None:
            raise CaseNotFound("no such case", field="caseId")  # moved out of scope meanwhile
        # Whether the borrower is in legal proceedings for the viewer, read after the lock.
        legal_stage = (
            depends_on_legal_stage(ctx.viewer.roles)
            and (
                await loaders.borrowers_in_legal_stage(
                    uow.session, [case.borrower_id], ctx.scope.case
                )
            )[0]
        )
        parts = parts_of(record, borrower, ctx.viewer.roles, legal_stage=legal_stage, notes=notes)
        reference = str(record.case["reference"])
        built = evidence.build(
            parts.documents, case_reference=reference, fields=parts.fields, notes=notes
        )
        pack_id = await evidence_queries.store_pack(
            uow.session,
            case_id=case.id,
            sha256=built.sha256,
            manifest=json.loads(built.manifest),
            content=built.content,
            clear=built.clear,
            generated_by=ctx.viewer.id,
            generated_at=now,
        )
        uow.record(
            EvidencePackGenerated(
                case_id=case.id,
                at=now,
                actor_id=ctx.viewer.id,
                pack_id=pack_id,
                sha256=built.sha256,
                clear=built.clear,
            )
        )
        uow.append_audit(
            ctx.audit.key,
            ctx.audit.record(
                AuditAction.EVIDENCE_GENERATE,
                Outcome.ALLOWED,
                resource_type="EvidencePack",
                resource_ids=[to_global_id("EvidencePack", pack_id)],
                case_ids=[case.id],
                borrower_ids=[case.borrower_id],
                fields=[{"name": n, "clear": c} for n, c in sorted(parts.fields.items())],
                reason_text=reason,
                changes={
                    "caseReference": reference,
                    "sha256": built.sha256,
                    "clear": built.clear,
                    "freeText": notes,
                    "parts": len(built.parts),
                },
            ),
        )
        await uow.commit()
    ctx.audit.entries_written += 1
    return EvidencePack.from_pack(built, pack_id)
