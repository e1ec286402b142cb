"""Reading a feed from disk for ``jobs.importing``: a JSON Lines file, or a directory of CSV
files (one per record type, ``<type>.csv``, with the JSON field names as columns; a debt's
schedule in ``instalment.csv`` keyed by ``accountNumber`` and ``sequence``).

Lines are yielded one by one (a large file is never held in memory), each with where it came
from; the digest of what was read is ready once every line has been read. A line that cannot be
read (not JSON, not UTF-8, a CSV row with stray cells) comes with its problem instead of a row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from domain.feeds.records import RecordType, RowError, Where
from domain.feeds.validation import CSV_COLUMNS
from store.feed_staging import pack

Row = Mapping[str, object]
INSTALMENT_FILE = "instalment.csv"
# The order CSV files are read in: parents before the rows that refer to them.
CSV_ORDER = (
    RecordType.HEADER,
    RecordType.BORROWER,
    RecordType.CONTACT_POINT,
    RecordType.DEBT,
    RecordType.PAYMENT,
    RecordType.PAYMENT_REVERSAL,
    RecordType.CHARGE_OFF,
    RecordType.LOAN_BOOK,
    RecordType.COST,
)


@dataclass(frozen=True)
class Line:
    """One record as read: where, its ``rec`` (``store.feed_staging.pack``), the record type a
    CSV file's name gives (None: the row's own ``type``), the row or why it cannot be read, and
    for a CSV debt its schedule's rows."""

    where: Where
    rec: int
    kind: RecordType | None
    row: Row | None
    problem: RowError | None = None
    instalments: tuple[tuple[Where, int, Row], ...] | None = None


class FeedFiles:
    """The files of one feed, read in order; ``progress`` counts bytes."""

    def __init__(self, path: Path, fmt: str | None = None) -> None:
        self.path = path
        self.format = fmt or ("csv" if path.is_dir() else "jsonl")
        if self.format not in ("csv", "jsonl"):
            raise ValueError(f"unknown feed format {self.format!r}: csv or jsonl")
        if self.format == "csv":
            if not path.is_dir():
                raise FileNotFoundError(f"{path} is not a directory of CSV files")
            self.files = [path / f"{kind.value}.csv" for kind in CSV_ORDER]
            self.files.append(path / INSTALMENT_FILE)
            self.extra = sorted(
                p for p in path.glob("*.csv") if p.name not in {f.name for f in self.files}
            )
            self.files += self.extra
        else:
            if not path.is_file():
                raise FileNotFoundError(f"{path} is not a file")
            self.files = [path]
            self.extra = []
        self.total_bytes = sum(f.stat().st_size for f in self.files if f.exists())
        self.read_bytes = 0
        self._digest = hashlib.sha256()

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()

    def lines(self) -> Iterator[Line]:
        """Yields every record (the header first), then problems of stray files and rows."""
        if self.format == "jsonl":
            yield from self._jsonl()
        else:
            yield from self._csv()

    def _take(self, raw: bytes) -> None:
        self._digest.update(raw)
        self.read_bytes += len(raw)

    # ---- JSON Lines ---------------------------------------------------------------------------

    def _jsonl(self) -> Iterator[Line]:
        name = self.path.name
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                self._take(raw)
                where, rec = Where(name, number), pack(0, number)
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield Line(where, rec, None, None, RowError(where, "(line)", "not UTF-8"))
                    continue
                except ValueError:
                    problem = RowError(where, "(line)", "not a JSON object")
                    yield Line(where, rec, None, None, problem)
                    continue
                if not isinstance(value, dict):
                    problem = RowError(where, "(line)", "not a JSON object")
                    yield Line(where, rec, None, None, problem)
                    continue
                yield Line(where, rec, None, value)

    # ---- CSV ----------------------------------------------------------------------------------

    def _rows(self, index: int) -> Iterator[tuple[Where, int, Row | None, RowError | None]]:
        path = self.files[index]
        if not path.exists():
            return
        data = path.read_bytes()
        self._digest.update(path.name.encode() + b"\x00")
        self._take(data)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            where = Where(path.name, 1)
            yield where, pack(index, 1), None, RowError(where, "(file)", "not UTF-8")
            return
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for row in reader:
            where = Where(path.name, reader.line_num)
            rec = pack(index, reader.line_num)
            if None in row:
                yield where, rec, None, RowError(where, "(line)", "more cells than columns")
                continue
            yield where, rec, {k: v for k, v in row.items() if v not in (None, "")}, None

    def _csv(self) -> Iterator[Line]:
        instalment_index = self.files.index(self.path / INSTALMENT_FILE)
        schedules: dict[str, list[tuple[Where, int, Row]]] = {}
        stray: list[Line] = []
        for where, rec, row, problem in self._rows(instalment_index):
            account = row.get("accountNumber") if row is not None else None
            if row is None or not isinstance(account, str):
                why = problem or RowError(where, "accountNumber", "required")
                stray.append(Line(where, rec, None, None, why))
                continue
            schedules.setdefault(account, []).append((where, rec, row))
        header = self.files[0]
        if not header.exists():
            where = Where(header.name, 1)
            problem = RowError(where, "(file)", "the feed needs header.csv (asOf, source)")
            yield Line(where, pack(0, 1), RecordType.HEADER, None, problem)
        for index, kind in enumerate(CSV_ORDER):
            for where, rec, row, problem in self._rows(index):
                if row is None:
                    yield Line(where, rec, kind, None, problem)
                    continue
                if kind is RecordType.DEBT:
                    account = row.get("accountNumber")
                    found = schedules.pop(account, []) if isinstance(account, str) else []
                    yield Line(where, rec, kind, row, None, tuple(found))
                else:
                    yield Line(where, rec, kind, row)
        for rows in schedules.values():
            for where, rec, _row in rows:
                why = RowError(where, "accountNumber", "no row of debt.csv has this accountNumber")
                stray.append(Line(where, rec, None, None, why))
        for path in self.extra:
            index = self.files.index(path)
            where = Where(path.name, 1)
            known = ", ".join(f"{k}.csv" for k in CSV_COLUMNS)
            why = RowError(where, "(file)", f"not a record type of the feed ({known})")
            stray.append(Line(where, pack(index, 1), None, None, why))
        yield from stray

    # ---- rejects -----------------------------------------------------------------------------

    def original_lines(self, recs: set[int]) -> dict[int, str]:
        """Returns the text of the lines with these ``rec`` values (read again from disk)."""
        from store.feed_staging import unpack

        wanted: dict[int, set[int]] = {}
        for rec in recs:
            index, line = unpack(rec)
            wanted.setdefault(index, set()).add(line)
        found: dict[int, str] = {}
        for index, lines in wanted.items():
            path = self.files[index]
            if not path.exists():
                continue
            with path.open("rb") as handle:
                for number, raw in enumerate(handle, 1):
                    if number in lines:
                        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                        found[pack(index, number)] = text
        return found
