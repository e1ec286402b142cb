"""The report as an XLSX workbook for analysts: a sheet per section, numbers shown with number
formats, every name a text cell."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import openpyxl  # type: ignore[import-untyped]  # no stubs shipped; used through a few calls
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]

from domain.reports.model import PortfolioReport, Ratio, RollRate
from jobs.report_export.figures import figure_rows, matrix, sections, title

PERCENT = "0.00%"
PER_1000 = "0.0000"
AMOUNT = "#,##0.00"
COUNT = "#,##0"
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="33475B")
_HEADER_BORDER = Border(bottom=Side(style="thin", color="000000"))


def _append(sheet: Any, values: list[Any]) -> None:
    """Appends a row whose strings stay text: openpyxl would store a string starting with ``=``
    as a formula (and ``#N/A`` as an error), and a key is whatever a team or strategy is named."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _sheet(book: Any, name: str, heading: str, header: list[str], widths: list[int]) -> Any:
    """A sheet with the report's title above a styled header row, both kept in view."""
    sheet = book.create_sheet(name)
    _append(sheet, [heading])
    sheet["A1"].font = Font(bold=True, size=13)
    _append(sheet, header)
    for cell in sheet[2]:
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _HEADER_BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, width in enumerate(widths, 1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = width
    sheet.freeze_panes = "A3"
    return sheet


def _formats(sheet: Any, formats: dict[int, str]) -> None:
    """Gives the last row's cells their number formats (by 1-based column)."""
    row = sheet.max_row
    for column, number_format in formats.items():
        sheet.cell(row=row, column=column).number_format = number_format


def _rate_format(ratio: Ratio) -> str:
    return PER_1000 if ratio.scale != 1 else PERCENT


def to_xlsx(report: PortfolioReport, view: str) -> bytes:
    """A workbook with a sheet per section: Summary (the ratios), Aging, Roll rates (a from × to
    matrix per group and currency) and Days to recovery, each titled with the period and whose
    cases it counts (``view``, also the document's subject). Amounts and rates are numbers shown
    with number formats; openpyxl writes them with 16 significant digits and Excel keeps 15, so
    a value past that is rounded (the CSV holds every digit)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    heading = book.properties.title = title(report, view)
    book.properties.subject = view
    where = ["Section", "Key", "Currency"]
    summary = _sheet(
        book,
        "Summary",
        heading,
        [*where, "Figure", "Value", "Numerator", "Denominator", "Goal", "Meets goal"],
        [10, 18, 10, 32, 14, 18, 18, 10, 11],
    )
    aging = _sheet(
        book, "Aging", heading, [*where, "Bucket", "Cases", "Outstanding"], [10, 18, 10, 10, 10, 18]
    )
    _rolls_sheet(book, report, heading)
    recovery = _sheet(
        book,
        "Days to recovery",
        heading,
        [*where, "Days since overdue", "Cases"],
        [10, 18, 10, 20, 10],
    )
    for section, group in sections(report):
        at = [section, group.key, group.currency]
        _append(summary, [*at, "Recovered", group.recovered.amount])
        _formats(summary, {5: AMOUNT})
        for figure in figure_rows(group):
            ratio = figure.ratio
            goal = ratio.goal.target if ratio.goal else None
            numbers = [ratio.value, ratio.numerator, ratio.denominator, goal]
            _append(summary, [*at, figure.title, *numbers, ratio.meets_goal])
            size = AMOUNT if figure.money else COUNT
            _formats(summary, {5: _rate_format(ratio), 6: size, 7: size, 8: PERCENT})
        for bucket in group.aging:
            _append(aging, [*at, bucket.bucket, bucket.cases, bucket.outstanding.amount])
            _formats(aging, {5: COUNT, 6: AMOUNT})
        for count in group.days_to_recovery:
            _append(recovery, [*at, count.label, count.cases])
            _formats(recovery, {5: COUNT})
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def _rolls_sheet(book: Any, report: PortfolioReport, heading: str) -> Any:
    """Each group's roll rates as a from × to matrix, by count then by balance, under one header
    whose destination columns are every bucket any group rolled to; ``Base`` is what the row's
    rates divide by (the debts, or their balance, in the bucket at the start of a month)."""
    every = [roll for _, group in sections(report) for roll in group.roll_rates]
    _, columns, _ = matrix(every)
    sheet = _sheet(
        book,
        "Roll rates",
        heading,
        ["Section", "Key", "Currency", "Measure", "From", *columns, "Base"],
        [10, 18, 10, 12, 8, *[12] * len(columns), 18],
    )
    shares = {6 + n: PERCENT for n in range(len(columns))}
    measures: list[tuple[str, Callable[[RollRate], Ratio], str]] = [
        ("by count", lambda roll: roll.by_count, COUNT),
        ("by balance", lambda roll: roll.by_balance, AMOUNT),
    ]
    for section, group in sections(report):
        rows, _, cells = matrix(group.roll_rates)
        for measure, ratio_of, base_format in measures:
            for origin in rows:
                ratios = [
                    ratio_of(cells[origin, to]) if (origin, to) in cells else None for to in columns
                ]
                base = next(r.denominator for r in ratios if r is not None)
                values = [r.value if r else None for r in ratios]
                _append(sheet, [section, group.key, group.currency, measure, origin, *values, base])
                _formats(sheet, shares | {6 + len(columns): base_format})
    return sheet
