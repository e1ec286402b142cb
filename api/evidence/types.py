"""GraphQL types of evidence packs: the pack and its manifest's parts."""

from __future__ import annotations

import strawberry

from domain.evidence.pack import Pack


@strawberry.type(description="One data file of an evidence pack, as its manifest lists it.")
class EvidencePart:
    name: str = strawberry.field(description="The file's name in the zip, e.g. `payments.json`.")
    sha256: str = strawberry.field(description="The SHA-256 of the file's bytes, in hex.")
    bytes: int = strawberry.field(description="The file's size in bytes.")


@strawberry.type(
    description="A case's evidence pack: a zip of canonical JSON data files and `manifest.json`. "
    "Generated again for the same case state (and the same clear or masked view), every part "
    "and the pack's hash are the same."
)
class EvidencePack:
    manifest: list[EvidencePart] = strawberry.field(
        description="The data files, by name (`manifest.json` itself not included)."
    )
    sha256: str = strawberry.field(
        description="The pack's own hash: the SHA-256, in hex, of the bytes of the zip's "
        "`manifest.json` (which lists every part's hash)."
    )
    download_url: str = strawberry.field(
        description="Where the generator downloads the zip (`GET`, with the same bearer token)."
    )

    @classmethod
    def from_pack(cls, pack: Pack, pack_id: int) -> EvidencePack:
        return cls(
            manifest=[
                EvidencePart(name=p.name, sha256=p.sha256, bytes=p.bytes) for p in pack.parts
            ],
            sha256=pack.sha256,
            download_url=download_path(pack_id),
        )


def download_path(pack_id: int) -> str:
    """The path of a stored pack's download route (api.evidence.download)."""
    return f"/evidence-packs/{pack_id}"
