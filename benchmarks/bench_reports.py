"""Benchmark: the portfolio report, the scorecards and the variant comparison over a month of
daily snapshots on PostgreSQL, at N cases and, side by side in the same run, at N/10.

Builds two fresh databases (``arrears_bench_reports`` with N cases and
``arrears_bench_reports_tenth`` with N/10; each dropped and recreated at the start, migrated,
then filled by set-based statements: ``INSERT … SELECT`` over ``generate_series`` for what is
derived per case, ``COPY`` for the small tables made in Python). Each case has a borrower and
one or two debts (two portfolios, retail in CNY and us-cards in USD, four products) and a
month's course: current, newly delinquent, rolling on, cured (and closed), paid off, written
off in the month or before it, or paying in part; collectors, agencies (some recalled in the
month), a strategy and its variant. Every debt has a snapshot on each of 31 consecutive run
dates (the day before the month and its 30 days), as the daily run writes them; payments,
contacts, promises, complaints, classification history (with each period's spell start, as
the daily run keeps it), write-offs, the loan book and cost records follow the same course, with
a month of history before the period. Then ANALYZE.

Times each call below over the month (the period's runs read by ``observe`` inside each call)
and counts its SQL statements:

- ``portfolio_report`` with the totals only, and grouped by PORTFOLIO, AGENCY and VARIANT;
- ``scorecards`` at each level (COLLECTOR, TEAM, AGENCY);
- ``variant_comparison`` of the retail strategy.

The table shows seconds and statements at N/10 and at N and the ratio of the times: the
statement count must be the same, the time roughly ten times; then each call's three slowest
statements at N, named by the store functions that sent them. ``--explain-over S`` prints the
plan (EXPLAIN ANALYZE, under the planner settings the reports run with:
``store.report_basis.ANALYTIC_SETTINGS``) of the slowest statement of every call slower than S
seconds at N. To try
a fix without touching the code, ``--index`` adds an index and ``--set`` a session setting before
timing; ``--keep`` keeps the databases and ``--reuse`` times them again without seeding (the
databases are dropped afterwards unless either is given). A statement is stopped after
``--timeout`` seconds (the call then shows as failed). At a million cases the seeding takes
about twelve minutes on two cores and the databases about 10 GB.

    python benchmarks/bench_reports.py [--cases 1000000] [--keep | --reuse] [--explain-over 10]
        [--index 'payments (case_id, paid_at)'] [--set 'work_mem = 256MB'] [--timeout 600]

``ARREARS_BENCH_DATABASE_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``)
names the server (its user must be a superuser: foreign-key triggers are off while seeding).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import greenlet  # type: ignore[import-untyped]
from sqlalchemy import event, text, true
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.reports.goals import DEFAULT_GOALS
from domain.reports.model import Grouping, Period, ScorecardLevel
from store import report_queries, scorecard_queries, variant_queries
from store.db import create_engine
from store.migrate import upgrade
from store.report_basis import ANALYTIC_SETTINGS, observe

OPENING = date(2026, 10, 31)  # the first run date: the close of the day before the period
RUNS = 31  # run dates OPENING + 0 … OPENING + 30
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))
STRATEGY = "STANDARD"
DATABASE = "arrears_bench_reports"
COLLECTORS = 200  # staff 1–200, ten per team
AGENCIES = (
    # name, commission rate, tail days
    ("Bench North Agency", "0.1500", 30),
    ("Bench South Agency", "0.1800", 14),
    ("Bench East Agency", "0.1200", 0),
    ("Bench West Agency", "0.2000", 30),
    ("Bench Cards Agency", "0.2500", 7),
)
AGENTS = 10  # per agency: staff 201–250

# The course of a case over the month, chosen per case (``kind`` in the plan) with these shares
# in percent: current throughout, delinquent from a day of the month, rolling on, cured on a
# day (half of them closed the next), paid off on a day (no snapshot after it), written off on
# a day, written off before the month, paying in part.
KINDS = (
    ("CURRENT", 12),
    ("NEW", 10),
    ("ROLL", 35),
    ("CURE", 18),
    ("PAYOFF", 5),
    ("WRITEOFF", 5),
    ("OLD_WRITEOFF", 3),
    ("PARTIAL", 12),
)
CURRENT, NEW, ROLL, CURE, PAYOFF, WRITEOFF, OLD_WRITEOFF, PARTIAL = range(len(KINDS))


# ---- the per-case plan and the state of a debt on day t (t = 0 … 30 after OPENING) ----------


def _h(x: str, salt: int) -> str:
    """A well-mixed non-negative pseudo-random integer of ``x`` (deterministic: the same run
    builds the same data)."""
    return f"(hashint4(({x}) * 37 + {salt}) & 2147483647)"


def _kind() -> str:
    whens, upper = [], 0
    for number, (_, share) in enumerate(KINDS):
        upper += share
        whens.append(f"WHEN {_h('c', 1)} % 100 < {upper} THEN {number}")
    return f"CASE {' '.join(whens)} END"


def plan(cases: int) -> str:
    """One row per debt (the first debt of case c has id c, the second of an even case
    cases + c / 2), with everything drawn for its case and itself."""
    debts = cases + cases // 2
    fee = "CASE WHEN q.currency = 'CNY' THEN 50.00 ELSE 15.00 END"
    owed = f"(q.principal + round(q.principal * 0.04, 2) + round(q.principal * 0.01, 2) + {fee})"
    return f"""
    CREATE UNLOGGED TABLE bench_plan AS
    SELECT q.*, CASE q.kind WHEN {CURRENT} THEN NULL WHEN {NEW} THEN q.e ELSE 1 - q.dpd0 END AS s,
        round(q.principal * 0.04, 2) AS interest, round(q.principal * 0.01, 2) AS penalty,
        {fee} AS fee, {owed} AS b, round({owed} * 0.12, 2) AS cure,
        round({owed} * 0.05, 2) AS part,
        CASE WHEN q.agency IS NOT NULL
            THEN {COLLECTORS} + (q.agency - 1) * {AGENTS} + 1 + {_h("c", 8)} % {AGENTS} END
            AS agent,
        CASE WHEN q.agency IS NOT NULL AND {_h("c", 9)} % 3 = 0 THEN 1 + {_h("c", 9)} % 29 END
            AS rc
    FROM (
        SELECT a.*,
            CASE WHEN a.kind IN ({CURRENT}, {NEW}) THEN 0
                WHEN a.kind = {WRITEOFF} THEN 150 + a.v % 150
                WHEN a.kind = {OLD_WRITEOFF} THEN 200 + a.v % 400
                ELSE 1 + a.v * a.v * a.v / 2500000 END AS dpd0,
            CASE WHEN a.kind IN ({ROLL}, {WRITEOFF}, {PARTIAL}) AND a.v >= 400
                AND {_h("c", 7)} % 100 < 45 THEN 1 + {_h("c", 8)} % {len(AGENCIES)} END
                AS agency,
            round(CASE WHEN a.portfolio = 'us-cards' THEN 500 + {_h("d", 15)} % 14500
                WHEN a.product = 'MORTGAGE' THEN 200000 + {_h("d", 15)} % 800000
                ELSE 3000 + {_h("d", 15)} % 77000 END
                + ({_h("d", 16)} % 100) / 100.0, 2) AS principal
        FROM (
            SELECT g.d, g.c, g.d > {cases} AS second, {_kind()} AS kind,
                {_h("c", 2)} % 1000 AS v,
                CASE WHEN g.c % 10 < 7 THEN 'retail' ELSE 'us-cards' END AS portfolio,
                CASE WHEN g.c % 10 < 7 THEN 'CNY' ELSE 'USD' END AS currency,
                CASE WHEN g.c % 10 < 7 THEN 'Asia/Shanghai' ELSE 'America/New_York' END AS zone,
                CASE WHEN g.c % 10 >= 7
                    THEN CASE WHEN {_h("d", 14)} % 10 < 8 THEN 'CREDIT_CARD'
                        ELSE 'CONSUMER_LOAN' END
                    WHEN {_h("d", 14)} % 10 < 5 THEN 'CONSUMER_LOAN'
                    WHEN {_h("d", 14)} % 10 < 7 THEN 'AUTO_LOAN'
                    WHEN {_h("d", 14)} % 10 < 8 THEN 'MORTGAGE'
                    ELSE 'CREDIT_CARD' END AS product,
                1 + {_h("c", 3)} % 30 AS e,
                {_h("c", 4)} % 45 AS lag,
                1 + {_h("c", 5)} % {COLLECTORS} AS assignee0,
                1 + ({_h("c", 5)} + 37) % {COLLECTORS} AS assignee1,
                CASE WHEN {_h("c", 6)} % 10 = 0 THEN 1 + {_h("c", 6)} / 10 % 30 END AS ra,
                CASE WHEN g.c % 10 < 7 THEN 'STANDARD' ELSE 'CARDS' END AS strategy,
                CASE WHEN {_h("c", 10)} % 10 < 3 THEN 'CHALLENGER' ELSE 'CHAMPION' END
                    AS variant,
                {_h("c", 11)} % 100 < 3 AS held,
                {_h("c", 12)} % 2 = 0 AS closes,
                {_h("c", 13)} % 5 = 0 AS earlier,
                {_h("c", 17)} % 600 AS age
            FROM (
                SELECT d, CASE WHEN d <= {cases} THEN d ELSE 2 * (d - {cases}) END AS c
                FROM generate_series(1, {debts}) AS d
            ) AS g
        ) AS a
    ) AS q
    """


def case_dpd(t: str) -> str:
    """The case's days past due on day t (its first debt's: the worst)."""
    return f"""greatest(0, CASE WHEN kind = {CURRENT} THEN 0
        WHEN kind = {NEW} THEN {t} - e + 1
        WHEN kind IN ({CURE}, {PAYOFF}) AND {t} >= e THEN 0
        ELSE dpd0 + {t} END)"""


def debt_dpd(t: str) -> str:
    return f"CASE WHEN second THEN greatest({case_dpd(t)} - lag, 0) ELSE {case_dpd(t)} END"


def bucket(dpd: str) -> str:
    return f"CASE WHEN {dpd} <= 0 THEN 'M0' ELSE 'M' || least(({dpd} - 1) / 30 + 1, 7) END"


def classification(dpd: str) -> str:
    return f"""CASE WHEN {dpd} <= 0 THEN 'CURRENT' WHEN {dpd} <= 30 THEN 'MILD'
        WHEN {dpd} <= 90 THEN 'MODERATE' WHEN {dpd} <= 180 THEN 'SERIOUS' ELSE 'SEVERE' END"""


def written_off(t: str) -> str:
    return f"((kind = {WRITEOFF} AND {t} >= e) OR kind = {OLD_WRITEOFF})"


def present(t: str) -> str:
    """A paid-off case closes and is not aged (so not snapshotted) after its day."""
    return f"NOT (kind = {PAYOFF} AND {t} > e)"


def agency_on(t: str) -> str:
    return f"CASE WHEN rc IS NULL OR {t} < rc THEN agency END"


def assignee_on(t: str) -> str:
    """The agency's agent while placed; nobody's while current; else the collector (another
    one after a reassignment on day ``ra``)."""
    return f"""CASE WHEN agency IS NOT NULL AND (rc IS NULL OR {t} < rc) THEN agent
        WHEN kind = {CURRENT} OR (kind = {NEW} AND {t} < e) THEN NULL
        WHEN ra IS NOT NULL AND {t} >= ra THEN assignee1 ELSE assignee0 END"""


def case_status(t: str) -> str:
    return f"""CASE WHEN (closes AND kind = {CURE} AND {t} > e) OR (kind = {PAYOFF} AND {t} >= e)
        THEN 'CLOSED' WHEN held THEN 'ON_HOLD' ELSE 'OPEN' END"""


def case_stage(t: str) -> str:
    dpd = case_dpd(t)
    return f"""CASE WHEN {written_off(t)} THEN 'WRITTEN_OFF' WHEN {dpd} <= 30 THEN 'EARLY'
        WHEN {dpd} <= 90 OR c % 3 <> 0 THEN 'COLLECTION' ELSE 'LEGAL' END"""


def debt_status(t: str) -> str:
    return f"""CASE WHEN {written_off(t)} THEN 'WRITTEN_OFF'
        WHEN kind = {PAYOFF} AND {t} >= e THEN 'SETTLED'
        WHEN {debt_dpd(t)} > 0 THEN 'DELINQUENT' ELSE 'CURRENT' END"""


def balance(t: str) -> str:
    """What is owed on day t: the payments of the course taken off."""
    return f"""b - CASE WHEN kind = {CURE} AND {t} >= e THEN cure
        WHEN kind = {PAYOFF} AND {t} >= e THEN b
        WHEN kind = {PARTIAL} AND NOT second AND {t} >= e + 10 THEN 2 * part
        WHEN kind = {PARTIAL} AND NOT second AND {t} >= e THEN part ELSE 0 END"""


def day(t: str) -> str:
    return f"(DATE '{OPENING.isoformat()}' + ({t}))"


def local_at(t: str, minutes: str) -> str:
    """An instant on day t in the case's portfolio's time zone, ``minutes`` after midnight."""
    return f"(({day(t)})::timestamp + make_interval(mins => {minutes})) AT TIME ZONE zone"


def local_midnight(t: str) -> str:
    return f"({day(t)})::timestamp AT TIME ZONE zone"


# ---- the seeding statements ---------------------------------------------------------------------


def people(cases: int) -> list[str]:
    return [
        """
        INSERT INTO borrowers (id, full_name, national_id, phone, email, address, city,
            district, employer, income, income_currency, time_zone)
        SELECT c, 'Borrower ' || c, lpad(c::text, 18, '0'), '1' || lpad(c::text, 10, '0'),
            'b' || c || '@example.org', 'Street ' || c, 'City', 'District', 'Employer',
            CASE WHEN currency = 'CNY' THEN 12000.00 ELSE 4000.00 END, currency, zone
        FROM bench_plan WHERE NOT second
        """,
        f"""
        INSERT INTO cases (id, reference, borrower_id, portfolio, currency, opened_on, status,
            stage, days_past_due, bucket, classification, policy_version, dpd_as_of,
            outstanding_amount, assignee_id, agency_id, placed_at, placement_ends_on,
            close_reason, closed_at, watch_until, closed_while_held, version)
        SELECT p.c, 'BR-' || lpad(p.c::text, 9, '0'), p.c, portfolio, currency,
            {day("coalesce(s, 0) - 120 - age")}, {case_status("30")}, {case_stage("30")},
            {case_dpd("30")}, {bucket(case_dpd("30"))}, {classification(case_dpd("30"))},
            '2026.1', {day("30")}, o.outstanding, {assignee_on("30")}, {agency_on("30")},
            CASE WHEN {agency_on("30")} IS NOT NULL THEN {local_at("-20", "600")} END,
            CASE WHEN {agency_on("30")} IS NOT NULL THEN {day("70")} END,
            CASE WHEN {case_status("30")} = 'CLOSED'
                THEN CASE WHEN kind = {PAYOFF} THEN 'PAID_IN_FULL' ELSE 'CURED' END END,
            CASE WHEN {case_status("30")} = 'CLOSED' THEN {local_at("e + 1", "60")} END,
            CASE WHEN {case_status("30")} = 'CLOSED' THEN {day("e + 61")} END,
            false, 1
        FROM bench_plan AS p
        JOIN (SELECT c AS owner, sum({balance("30")}) AS outstanding FROM bench_plan
            GROUP BY c) AS o ON o.owner = p.c
        WHERE NOT p.second
        """,
        f"""
        INSERT INTO debts (id, case_id, borrower_id, account_number, product_type, currency,
            principal, interest, penalty, fee, opened_on, status, paused_days, balances_as_of,
            aged_dpd, aged_bucket)
        SELECT d, c, c, 'BA' || lpad(d::text, 12, '0'), product, currency, principal, interest,
            penalty, fee, {day("coalesce(s, 0) - 120 - age")}, {debt_status("30")}, 0,
            {day("30")}, {debt_dpd("30")}, {bucket(debt_dpd("30"))}
        FROM bench_plan
        """,
    ]


def snapshots(t: int) -> str:
    """The daily run's snapshot of every debt on run date t (one statement per date, in the
    order the daily run writes them)."""
    s = str(t)
    return f"""
    INSERT INTO debt_snapshots (debt_id, as_of, case_id, portfolio, product_type, currency,
        balance, principal, days_past_due, bucket, classification, status, assignee_id,
        agency_id, strategy, strategy_version, variant, case_status, case_stage)
    SELECT d, {day(s)}, c, portfolio, product, currency, {balance(s)},
        CASE WHEN kind = {PAYOFF} AND {s} >= e THEN 0 ELSE principal END,
        dpd, {bucket("dpd")}, {classification("dpd")}, {debt_status(s)}, {assignee_on(s)},
        {agency_on(s)}, CASE WHEN kind <> {CURRENT} THEN strategy END,
        CASE WHEN kind <> {CURRENT} THEN '3' END, CASE WHEN kind <> {CURRENT} THEN variant END,
        {case_status(s)}, {case_stage(s)}
    FROM (SELECT p.*, {debt_dpd(s)} AS dpd FROM bench_plan AS p WHERE {present(s)}) AS x
    """


def payments() -> str:
    """The course's payments (a cure, a payoff, part payments, recoveries after a write-off)
    and one in three debts' payment in the three months before; one in a hundred in the month
    returned three days later (some after the month)."""
    return f"""
    INSERT INTO payments (case_id, debt_id, amount, currency, paid_at, reference, source,
        created_at, reversed, reversed_at, reversal_reason, closed_case, recovery, version)
    SELECT c, d, amount, currency, at, 'BP-' || d || '-' || tag, 'FEED', at, reversed,
        CASE WHEN reversed THEN at + interval '3 days' END,
        CASE WHEN reversed THEN 'returned by the bank' END, closed_case, recovery, 1
    FROM (
        SELECT p.c, p.d, p.currency, pay.amount, pay.tag, pay.recovery, pay.closed_case,
            {local_at("pay.t", "540 + (p.d * 7) % 720")} AS at,
            pay.t >= 1 AND p.d % 100 = 7 AS reversed
        FROM bench_plan AS p
        CROSS JOIN LATERAL (VALUES
            (p.kind = {CURE}, p.e, 'cure', p.cure, false, p.closes),
            (p.kind = {PAYOFF}, p.e, 'payoff', p.b, false, true),
            (p.kind = {PARTIAL} AND NOT p.second, p.e, 'part1', p.part, false, false),
            (p.kind = {PARTIAL} AND NOT p.second AND p.e <= 20, p.e + 10, 'part2', p.part,
                false, false),
            (p.kind = {WRITEOFF} AND p.v % 4 = 0 AND p.e <= 25, p.e + 5, 'recovery',
                round(p.b * 0.03, 2), true, false),
            (p.kind = {OLD_WRITEOFF} AND p.v % 8 = 0, p.e, 'recovery', round(p.b * 0.02, 2),
                true, false),
            (p.d % 3 = 0 AND p.kind <> {OLD_WRITEOFF}, -({_h("p.d", 19)} % 90), 'history',
                round(p.b * 0.04, 2), false, false)
        ) AS pay(due, t, tag, amount, recovery, closed_case)
        WHERE pay.due
    ) AS x
    """


def contacts() -> str:
    """Three attempts a month on each delinquent case with an owner, this month and the one
    before, by the owner of that day: calls, messages, letters and visits with their outcomes;
    one in fifty refused by a conduct rule, one in three hundred logged with a breach."""
    t = "(1 + c % 10 + 10 * k)"
    r = _h("c * 8 + k + 3", 20)
    voice = f"""CASE WHEN {r} / 100 % 100 < 30 THEN 'RIGHT_PARTY_CONTACT'
        WHEN {r} / 100 % 100 < 38 THEN 'PROMISE_TO_PAY'
        WHEN {r} / 100 % 100 < 42 THEN 'REFUSED_TO_PAY'
        WHEN {r} / 100 % 100 < 44 THEN 'DISPUTE_RAISED'
        WHEN {r} / 100 % 100 < 47 THEN 'CALLBACK_REQUESTED'
        WHEN {r} / 100 % 100 < 52 THEN 'THIRD_PARTY_CONTACT'
        WHEN {r} / 100 % 100 < 75 THEN 'NO_ANSWER'
        WHEN {r} / 100 % 100 < 85 THEN 'LEFT_MESSAGE'
        WHEN {r} / 100 % 100 < 95 THEN 'BUSY_OR_NOT_CONNECTED' ELSE 'WRONG_NUMBER' END"""
    channel = f"""CASE WHEN {r} % 100 < 55 THEN 'PHONE' WHEN {r} % 100 < 70 THEN 'SMS'
        WHEN {r} % 100 < 78 THEN 'AUTOMATED_CALL' WHEN {r} % 100 < 86 THEN 'EMAIL'
        WHEN {r} % 100 < 93 THEN 'LETTER' ELSE 'FIELD_VISIT' END"""
    blocked = f"{r} / 10000 % 50 = 0"
    return f"""
    INSERT INTO contacts (case_id, borrower_id, staff_id, agency_id, at, channel, direction,
        party, outcome, notes, completed_at, source, blocked, rule, breaches, consented)
    SELECT c, c, staff_id, agency_id, at, channel, direction, party,
        CASE WHEN blocked THEN NULL
            WHEN channel IN ('PHONE', 'AUTOMATED_CALL', 'FIELD_VISIT') THEN voice
            WHEN r / 3 % 20 = 0 THEN 'FAILED' ELSE 'DELIVERED' END,
        '', CASE WHEN NOT blocked THEN at END, 'LOGGED', blocked,
        CASE WHEN blocked THEN 'DAILY_ATTEMPTS' END,
        CASE WHEN NOT blocked AND r / 1000000 % 300 = 0 THEN '["QUIET_HOURS"]' ELSE '[]'
            END::json,
        false
    FROM (
        SELECT c, {r} AS r, {assignee_on(t)} AS staff_id, {agency_on(t)} AS agency_id,
            {local_at(t, f"480 + {r} % 780")} AS at, {channel} AS channel, {voice} AS voice,
            CASE WHEN {r} % 20 = 0 THEN 'INBOUND' ELSE 'OUTBOUND' END AS direction,
            CASE WHEN {r} / 7 % 20 = 0 THEN 'GUARANTOR' WHEN {r} / 7 % 20 = 1
                THEN 'EMERGENCY_CONTACT' ELSE 'BORROWER' END AS party,
            {blocked} AS blocked
        FROM bench_plan CROSS JOIN generate_series(-3, 2) AS k
        WHERE NOT second AND {present(t)} AND {case_dpd(t)} > 0
            AND {assignee_on(t)} IS NOT NULL
    ) AS x
    """


def promises() -> str:
    """Three in ten delinquent cases promise (a third of them in the month before), taken by
    the case's owner that day, due five days later with two days' grace, then kept, partly
    kept or broken by the course of the case (still open when judged after the month)."""
    pc = f"(1 + {_h('c', 22)} % 28 - CASE WHEN {_h('c', 22)} % 3 = 0 THEN 30 ELSE 0 END)"
    return f"""
    INSERT INTO promises (case_id, staff_id, agency_id, amount, currency, promised_on,
        due_date, grace_days, status, paid_amount, created_at, resolved_at, recorded_by,
        version)
    SELECT c, staff_id, agency_id, amount, currency, {day("pc")}, {day("pc + 5")}, 2, status,
        CASE status WHEN 'KEPT' THEN amount WHEN 'PARTIALLY_KEPT' THEN round(amount / 2, 2)
            ELSE 0 END,
        {local_at("pc", "600 + c % 480")},
        CASE WHEN status <> 'OPEN' THEN {local_at("pc + 8", "30")} END, staff_id, 1
    FROM (
        SELECT *, round(b * 0.1, 2) AS amount,
            CASE WHEN pc + 8 > 30 THEN 'OPEN' WHEN kind IN ({CURE}, {PAYOFF}) THEN 'KEPT'
                WHEN kind = {PARTIAL} THEN 'PARTIALLY_KEPT' WHEN v % 10 < 3 THEN 'KEPT'
                ELSE 'BROKEN' END AS status,
            {assignee_on("pc")} AS staff_id, {agency_on("pc")} AS agency_id
        FROM (SELECT *, {pc} AS pc FROM bench_plan
            WHERE NOT second AND kind NOT IN ({CURRENT}, {NEW}, {OLD_WRITEOFF})
                AND {_h("c", 21)} % 100 < 30) AS p
    ) AS x
    """


def complaints() -> str:
    """1.2% of cases complain, half in the month; resolved ten days later."""
    fd = f"(1 + {_h('c', 25)} % 30 - CASE WHEN {_h('c', 24)} % 2 = 0 THEN 30 ELSE 0 END)"
    return f"""
    INSERT INTO complaints (case_id, borrower_id, kind, channel, written, description, status,
        filed_at, resolved_at, resolution, version)
    SELECT c, c, CASE WHEN v % 4 = 0 THEN 'DISPUTE' ELSE 'COMPLAINT' END,
        (ARRAY['PHONE', 'LETTER', 'WEB', 'EMAIL', 'REGULATOR'])[1 + v % 5],
        v % 5 IN (1, 2, 3), 'Bench complaint',
        CASE WHEN fd + 10 <= 30 THEN 'RESOLVED' ELSE 'OPEN' END,
        {local_at("fd", "700 + c % 300")},
        CASE WHEN fd + 10 <= 30 THEN {local_at("fd + 10", "700")} END,
        CASE WHEN fd + 10 <= 30 THEN 'Explained' END, 1
    FROM (SELECT *, {fd} AS fd FROM bench_plan
        WHERE NOT second AND {_h("c", 24)} % 1000 < 12) AS p
    """


def history() -> str:
    """Each case's classification periods (inclusive, the last one open): current until it
    went overdue on day s, a bucket per thirty days since, current again from the day of a cure
    or payoff; one case in five cured once before (a twenty-day spell two months earlier)."""
    classes = classification("(k * 30 - 29)")
    cured = f"CASE WHEN kind IN ({CURE}, {PAYOFF}) THEN e END"
    return f"""
    INSERT INTO classification_history (case_id, classification, bucket, from_date, to_date,
        policy_version)
    SELECT c, classification, bucket, {day("f")}, {day("u")}, '2026.1'
    FROM (
        SELECT c, 'CURRENT' AS classification, 'M0' AS bucket, coalesce(s, 0) - 120 - age AS f,
            CASE WHEN s IS NULL THEN NULL WHEN earlier THEN s - 61 ELSE s - 1 END AS u
        FROM bench_plan WHERE NOT second
        UNION ALL
        SELECT c, 'MILD', 'M1', s - 60, s - 41 FROM bench_plan
        WHERE NOT second AND s IS NOT NULL AND earlier
        UNION ALL
        SELECT c, 'CURRENT', 'M0', s - 40, s - 1 FROM bench_plan
        WHERE NOT second AND s IS NOT NULL AND earlier
        UNION ALL
        SELECT c, {classes}, 'M' || k, s + 30 * (k - 1),
            CASE WHEN k = 7 THEN {cured} - 1
                WHEN least(s + 30 * k - 1, coalesce({cured} - 1, s + 30 * k - 1)) >= 30
                THEN NULL
                ELSE least(s + 30 * k - 1, coalesce({cured} - 1, s + 30 * k - 1)) END
        FROM bench_plan CROSS JOIN generate_series(1, 7) AS k
        WHERE NOT second AND s IS NOT NULL AND s + 30 * (k - 1) <= 30
            AND s + 30 * (k - 1) < coalesce({cured}, 31)
        UNION ALL
        SELECT c, 'CURRENT', 'M0', e, NULL FROM bench_plan
        WHERE NOT second AND kind IN ({CURE}, {PAYOFF})
    ) AS periods
    """


def spells() -> str:
    """Each period's spell start, by the rule the daily run keeps as it opens them: migration
    0011's backfill of the history kept before it, run again over the seeded history."""
    backfill: str = importlib.import_module("migrations.versions.0011_reports_at_scale").BACKFILL
    return backfill


def ledger() -> list[str]:
    """Write-offs (the core's charge-offs) and the loan book of every run date: the
    collection book is a twenty-fifth of it."""
    return [
        f"""
        INSERT INTO write_offs (case_id, source, reason_code, amount, currency, written_off_at)
        SELECT c, 'CHARGE_OFF', 'CORE_CHARGE_OFF', b, currency,
            {local_midnight(f"CASE WHEN kind = {WRITEOFF} THEN e ELSE -1 - v % 200 END")}
        FROM bench_plan WHERE NOT second AND kind IN ({WRITEOFF}, {OLD_WRITEOFF})
        """,
        f"""
        INSERT INTO loan_book (date, portfolio, product_type, currency, principal)
        SELECT {day("t")}, portfolio, product, currency, round(total * 25 * (1 + t * 0.001), 2)
        FROM (SELECT portfolio, product, currency, sum(principal) AS total FROM bench_plan
            GROUP BY portfolio, product, currency) AS book
        CROSS JOIN generate_series(0, {RUNS - 1}) AS t
        """,
    ]


def copied(cases: int) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The small tables, made in Python and loaded with COPY: agencies, staff, the daily runs
    and the cost records of every run date (per portfolio and category)."""
    agencies = [
        (n, name, Decimal(rate), 90, True, tail)
        for n, (name, rate, tail) in enumerate(AGENCIES, start=1)
    ]
    staff: list[tuple[Any, ...]] = [
        (
            n,
            f"collector{n:03}",
            f"Collector {n}",
            '["collector"]',
            f"team-{(n - 1) // 10 + 1:02}",
            None,
            400,
            True,
        )
        for n in range(1, COLLECTORS + 1)
    ]
    for agency in range(1, len(AGENCIES) + 1):
        for n in range(AGENTS):
            number = COLLECTORS + (agency - 1) * AGENTS + n + 1
            staff.append(
                (
                    number,
                    f"agent{number:03}",
                    f"Agent {number}",
                    '["agency_agent"]',
                    None,
                    agency,
                    400,
                    True,
                )
            )
    runs = [
        (
            OPENING + timedelta(days=t),
            datetime.combine(OPENING + timedelta(days=t), datetime.min.time(), UTC)
            + timedelta(hours=20),
            datetime.combine(OPENING + timedelta(days=t), datetime.min.time(), UTC)
            + timedelta(hours=20, minutes=10),
            json.dumps({"bench": True}),
        )
        for t in range(RUNS)
    ]
    share = {"retail": ("CNY", cases * 7 // 10), "us-cards": ("USD", cases * 3 // 10)}
    rates = {"CALL_CENTRE": "0.40", "LETTERS": "0.05", "SMS": "0.02", "LEGAL_FEES": "0.15"}
    costs = [
        (
            OPENING + timedelta(days=t),
            portfolio,
            category,
            currency,
            (Decimal(rate) * count / (1 if currency == "CNY" else 7)).quantize(Decimal("0.01")),
        )
        for t in range(RUNS)
        for portfolio, (currency, count) in share.items()
        for category, rate in rates.items()
    ]
    return {
        "agencies": (
            ["id", "name", "commission_rate", "placement_days", "active", "tail_days"],
            agencies,
        ),
        "staff": (
            ["id", "login", "name", "roles", "team", "agency_id", "capacity", "active"],
            staff,
        ),
        "daily_runs": (["as_of", "started_at", "finished_at", "summary"], runs),
        "cost_records": (["date", "portfolio", "category", "currency", "amount"], costs),
    }


# ---- building a database ----------------------------------------------------------------------


class Bare:
    """A table's indexes and unreferenced keys dropped while it is loaded and built again after
    (one sort per index instead of a random insert per row)."""

    def __init__(self, conn: AsyncConnection, *tables: str) -> None:
        self.conn = conn
        self.tables = tables
        self.rebuild: list[str] = []

    async def __aenter__(self) -> None:
        for table in self.tables:
            keys = await self.conn.exec_driver_sql(
                f"""
                SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint AS k
                WHERE k.conrelid = '{table}'::regclass AND k.contype IN ('p', 'u')
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint AS f
                        WHERE f.contype = 'f' AND f.conindid = k.conindid)
                """
            )
            indexes = await self.conn.exec_driver_sql(
                f"""
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index AS i WHERE i.indrelid = '{table}'::regclass
                    AND i.indexrelid NOT IN (SELECT conindid FROM pg_constraint
                        WHERE conrelid = '{table}'::regclass)
                """
            )
            for name, definition in (tuple(row) for row in keys):
                await self.conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
                self.rebuild.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            for name, definition in (tuple(row) for row in indexes):
                await self.conn.exec_driver_sql(f"DROP INDEX {name}")
                self.rebuild.append(definition)

    async def __aexit__(self, *exc: object) -> None:
        for statement in self.rebuild:
            await self.conn.exec_driver_sql(statement)


TABLES = (
    "borrowers",
    "cases",
    "debts",
    "debt_snapshots",
    "payments",
    "contacts",
    "promises",
    "complaints",
    "classification_history",
    "write_offs",
    "loan_book",
    "cost_records",
    "daily_runs",
    "staff",
    "agencies",
)


async def seed(engine: AsyncEngine, cases: int) -> float:
    """Migrates and fills the database; returns the seconds the filling took (ANALYZE
    included), printing each step's."""
    await upgrade(engine)
    started = time.perf_counter()

    async def step(name: str, work: Callable[[], Awaitable[None]]) -> None:
        begun = time.perf_counter()
        await work()
        print(f"    {name:<34}{time.perf_counter() - begun:8.1f} s", flush=True)

    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        # The rows are made consistent: no foreign-key trigger per row; one core, not both.
        for setting in (
            "SET session_replication_role = replica",
            "SET synchronous_commit = off",
            "SET max_parallel_maintenance_workers = 0",
            "SET maintenance_work_mem = '256MB'",
        ):
            await conn.exec_driver_sql(setting)

        async def run(*statements: str, bare: tuple[str, ...] = ()) -> None:
            async with Bare(conn, *bare):
                for statement in statements:
                    await conn.exec_driver_sql(statement)

        async def copy() -> None:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            for table, (columns, records) in copied(cases).items():
                await driver.copy_records_to_table(table, records=records, columns=columns)

        await step("agencies, staff, runs, costs (COPY)", copy)
        await step("plan of the cases", lambda: run(plan(cases), "ANALYZE bench_plan"))
        people_tables = ("borrowers", "cases", "debts")
        await step("borrowers, cases, debts", lambda: run(*people(cases), bare=people_tables))
        await step(
            f"debt snapshots ({RUNS} run dates)",
            lambda: run(*(snapshots(t) for t in range(RUNS)), bare=("debt_snapshots",)),
        )
        await step("payments", lambda: run(payments(), bare=("payments",)))
        await step("contacts", lambda: run(contacts(), bare=("contacts",)))
        await step("promises", lambda: run(promises(), bare=("promises",)))
        await step("complaints", lambda: run(complaints(), bare=("complaints",)))
        await step(
            "classification history",
            lambda: run(history(), spells(), bare=("classification_history",)),
        )
        await step("write-offs, loan book", lambda: run(*ledger()))
        await step(
            "sequences, VACUUM ANALYZE",
            lambda: run(
                "DROP TABLE bench_plan",
                *(
                    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {t}))"
                    for t in TABLES
                    if t not in ("debt_snapshots", "daily_runs")
                ),
                "VACUUM ANALYZE",
            ),
        )
        rows = await conn.exec_driver_sql(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r' AND relname IN "
            f"({', '.join(repr(t) for t in TABLES)}) ORDER BY reltuples DESC"
        )
        print(
            "    rows: "
            + ", ".join(f"{name} {count:,}" for name, count in (tuple(row) for row in rows))
        )
    return time.perf_counter() - started


# ---- timing the reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One SQL statement a call ran: its seconds, where in the store it was sent from, and its
    text and parameters (for EXPLAIN)."""

    seconds: float
    origin: str
    sql: str
    parameters: Any


def _origin() -> str:
    """The two innermost store functions awaiting the statement (file:line function). The
    statement runs in SQLAlchemy's greenlet; the coroutines that await it are on its parent's
    stack."""
    parent = greenlet.getcurrent().parent
    frame = parent.gr_frame if parent is not None else None
    found: list[str] = []
    while frame is not None and len(found) < 2:
        if f"{os.sep}store{os.sep}" in frame.f_code.co_filename:
            name = os.path.basename(frame.f_code.co_filename)
            found.append(f"{name}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return " < ".join(found)


@dataclass
class Statements:
    """The SQL statements an engine runs since ``reset`` (with the one still running)."""

    done: list[Statement] = field(default_factory=list)
    running: tuple[float, str, str, Any] | None = None

    def watch(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.done, self.running = [], None

    def interrupted(self) -> None:
        """Records the statement a failure stopped (a timeout), as long as it ran."""
        if self.running is not None:
            started, origin, sql, parameters = self.running
            spent = time.perf_counter() - started
            self.done.append(Statement(spent, f"{origin} (stopped)", sql, parameters))
            self.running = None

    def _before(self, _c: Any, _k: Any, sql: str, parameters: Any, *_: Any) -> None:
        self.running = (time.perf_counter(), _origin(), sql, parameters)

    def _after(self, *_: Any) -> None:
        if self.running is not None:
            started, origin, sql, parameters = self.running
            self.done.append(Statement(time.perf_counter() - started, origin, sql, parameters))
            self.running = None


@dataclass(frozen=True)
class Measure:
    seconds: float
    statements: list[Statement]
    outcome: str

    def slowest(self, count: int) -> list[Statement]:
        return sorted(self.statements, key=lambda s: -s.seconds)[:count]


Call = Callable[[AsyncConnection], Awaitable[str]]


def calls(period: Period = PERIOD) -> list[tuple[str, Call]]:
    """What is timed: each report over the period (the month) for a caller who sees every
    case."""
    scope = true()

    def report(grouping: Grouping | None) -> Call:
        async def call(conn: AsyncConnection) -> str:
            result = await report_queries.portfolio_report(
                conn, period, grouping, scope, whole_book=True, goals=DEFAULT_GOALS
            )
            return f"{len(result.groups)} groups, {len(result.totals)} totals"

        return call

    def scorecards(level: ScorecardLevel) -> Call:
        async def call(conn: AsyncConnection) -> str:
            observations = await observe(conn, period)
            rows = scorecard_queries.ScorecardRows()
            cards = await scorecard_queries.scorecards(conn, observations, level, scope, rows)
            return f"{len(cards)} scorecards"

        return call

    async def variants(conn: AsyncConnection) -> str:
        observations = await observe(conn, period)
        found = await variant_queries.variant_comparison(conn, observations, STRATEGY, scope)
        return f"{len(found)} metrics"

    return [
        ("portfolio_report, totals", report(None)),
        *(
            (f"portfolio_report by {g.value}", report(g))
            for g in (Grouping.PORTFOLIO, Grouping.AGENCY, Grouping.VARIANT)
        ),
        *((f"scorecards {level.value}", scorecards(level)) for level in ScorecardLevel),
        (f"variant_comparison {STRATEGY}", variants),
    ]


async def measure(
    engine: AsyncEngine, statements: Statements, call: Call, limit: int, settings: list[str]
) -> Measure:
    async with engine.connect() as conn:
        for setting in (f"statement_timeout = '{limit}s'", *settings):
            await conn.exec_driver_sql(f"SET {setting}")
        statements.reset()
        started = time.perf_counter()
        try:
            outcome = await call(conn)
        except NotImplementedError:
            outcome = "not implemented yet"
        except Exception as exc:  # a benchmark reports a failing call and goes on
            statements.interrupted()
            outcome = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:60]}"
        seconds = time.perf_counter() - started
    return Measure(seconds, list(statements.done), outcome)


async def explain(
    engine: AsyncEngine, name: str, statement: Statement, limit: int, settings: list[str]
) -> None:
    """Prints the plan of a call's slowest statement, run again under EXPLAIN ANALYZE (under
    plain EXPLAIN when it was stopped by the timeout)."""
    shown = str(statement.parameters)
    shown = shown if len(shown) < 400 else shown[:400] + "…"
    print(
        f"\n{name}: slowest statement, {statement.seconds:.1f} s, {statement.origin}\n"
        f"{statement.sql}\nparameters: {shown}"
    )
    analyse = "" if statement.origin.endswith("(stopped)") else "ANALYZE, "
    async with engine.connect() as conn:
        reports = [f"{name} = '{value}'" for name, value in ANALYTIC_SETTINGS.items()]
        for setting in (f"statement_timeout = '{limit}s'", *reports, *settings):
            await conn.exec_driver_sql(f"SET {setting}")
        plan_rows = await conn.exec_driver_sql(
            f"EXPLAIN ({analyse}BUFFERS) {statement.sql}", tuple(statement.parameters or ())
        )
        print("\n".join(row[0] for row in plan_rows))


def table(rows: list[tuple[str, Measure, Measure]], tenth: int, whole: int) -> None:
    """Prints each call's seconds and statements at both sizes, then where the time of each
    went at N (its three slowest statements, by the store functions that sent them)."""
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"\nreports over {PERIOD.start} – {PERIOD.end} ({RUNS} run dates of snapshots), "
        f"PostgreSQL, a caller who sees every case (load average now {load})"
    )
    print(f"{'call':<32}{f'{tenth:,} cases':>24}{f'{whole:,} cases':>24}{'time ratio':>12}")
    print(f"{'':<32}" + f"{'seconds':>12}{'statements':>12}" * 2)
    for name, small, full in rows:
        ratio = full.seconds / small.seconds if small.seconds else 0.0
        print(
            f"{name:<32}{small.seconds:>12.2f}{len(small.statements):>12}"
            f"{full.seconds:>12.2f}{len(full.statements):>12}{ratio:>11.1f}x  {full.outcome}"
        )
    print(f"\nslowest statements at {whole:,} cases (seconds, where the store sent them)")
    for name, _, full in rows:
        print(name)
        for statement in full.slowest(3):
            print(f"    {statement.seconds:8.2f} s  {statement.origin}")


async def main(
    cases: int,
    keep: bool,
    reuse: bool,
    indexes: list[str],
    settings: list[str],
    explain_over: float | None,
    limit: int,
) -> None:
    base = os.environ.get(
        "ARREARS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    sizes = ((f"{DATABASE}_tenth", cases // 10), (DATABASE, cases))
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    engines: list[tuple[AsyncEngine, Statements]] = []
    try:
        for name, size in sizes:
            if not reuse:
                async with admin.connect() as conn:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
            engine = create_engine(url)
            statements = Statements()
            statements.watch(engine)
            engines.append((engine, statements))
            if not reuse:
                print(f"seeding {name}: {size:,} cases", flush=True)
                print(f"  seeded in {await seed(engine, size):.1f} s", flush=True)
            for index in indexes:
                async with engine.begin() as conn:
                    named = "ix_bench_" + "_".join(re.findall(r"\w+", index))
                    await conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {named} ON {index}")
                    await conn.exec_driver_sql(f"ANALYZE {index.split()[0]}")

        rows: list[tuple[str, Measure, Measure]] = []
        for name, call in calls():
            small, full = [await measure(e, s, call, limit, settings) for e, s in engines]
            rows.append((name, small, full))
            print(f"  timed {name}: {full.seconds:.2f} s", flush=True)

        table(rows, sizes[0][1], sizes[1][1])
        if explain_over is not None:
            for name, _, full in rows:
                if full.seconds > explain_over and full.statements:
                    await explain(engines[1][0], name, full.slowest(1)[0], limit, settings)
    finally:
        for engine, _ in engines:
            await engine.dispose()
        async with admin.connect() as conn:
            for name, _ in sizes:
                if keep:
                    print(f"kept database {name}")
                else:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the databases a run with --keep left (same --cases) instead of seeding",
    )
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="'TABLE (COLUMNS)'",
        help="create this index before timing (to try a proposed one); may be repeated",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="'NAME = VALUE'",
        help="a setting of the timed sessions (e.g. 'jit = off'); may be repeated",
    )
    parser.add_argument(
        "--explain-over",
        type=float,
        default=None,
        metavar="SECONDS",
        help="EXPLAIN ANALYZE the slowest statement of every call slower than this at N",
    )
    parser.add_argument(
        "--timeout", type=int, default=600, help="statement timeout in seconds (default 600)"
    )
    arguments = parser.parse_args()
    if arguments.cases < 20:
        parser.error("--cases must be at least 20")
    asyncio.run(
        main(
            arguments.cases,
            arguments.keep or arguments.reuse,
            arguments.reuse,
            arguments.index,
            arguments.set,
            arguments.explain_over,
            arguments.timeout,
        )
    )
