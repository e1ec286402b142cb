"""The portfolio report as files: CSV (one tidy row per group and figure) and XLSX for analysts,
and a self-contained HTML page with charts for managers, each labelled with whose cases it
counts.

Every figure of a group is listed once, in ``figures.figure_rows``, and the three formats read
that list, so that they never disagree on what a report holds.
"""

from __future__ import annotations

import enum
import os
import tempfile
from pathlib import Path

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.reports.goals import Goals
from domain.reports.model import Grouping, Period, PortfolioReport
from jobs.report_export.charts import NO_DATA
from jobs.report_export.csv_file import CSV_COLUMNS, to_csv
from jobs.report_export.figures import ALL_CASES, view_of
from jobs.report_export.html_page import to_html
from jobs.report_export.xlsx_file import to_xlsx
from store import report_queries

__all__ = [
    "ALL_CASES",
    "CSV_COLUMNS",
    "NO_DATA",
    "ReportFormat",
    "portfolio_report",
    "render",
    "to_csv",
    "to_html",
    "to_xlsx",
    "view_of",
    "write_report",
]


class ReportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


async def portfolio_report(
    engine: AsyncEngine,
    period: Period,
    grouping: Grouping | None,
    goals: Goals,
    scope: ColumnElement[bool] | None = None,
) -> PortfolioReport:
    """Returns the report over every case (``scope`` None: the whole book, over which figures
    against the loan book apply) or over the cases a clause on ``cases`` lets its reader see."""
    async with engine.connect() as conn:
        return await report_queries.portfolio_report(
            conn,
            period,
            grouping,
            true() if scope is None else scope,
            whole_book=scope is None,
            goals=goals,
        )


def write_report(report: PortfolioReport, fmt: ReportFormat, path: Path, view: str) -> None:
    """Writes the report, labelled with whose cases it counts (``view``), to ``path`` whole or
    not at all (a failed write leaves no half file and an earlier file as it was)."""
    content = render(report, fmt, view)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as sink:
            # mkstemp's file is private (0600); a report gets the mode any new file gets.
            os.fchmod(sink.fileno(), 0o666 & ~_umask())
            sink.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it: to a private one for the moment
    until it is set back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def render(report: PortfolioReport, fmt: ReportFormat, view: str) -> bytes:
    if fmt is ReportFormat.CSV:
        return to_csv(report, view).encode("utf-8")
    if fmt is ReportFormat.XLSX:
        return to_xlsx(report, view)
    return to_html(report, view).encode("utf-8")
