"""Table definitions: the one source of the schema (Alembic autogenerates from this metadata)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.sql.expression import false, text

from store.types import Amount, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

agencies = Table(
    "agencies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("commission_rate", Numeric(6, 4), nullable=False),
    Column("placement_days", Integer, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # The contract's tail: payments this many days after a recall still earn the commission.
    Column("tail_days", Integer, nullable=False, default=0, server_default="0"),
)

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(80), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("team", String(80), nullable=True, index=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True, index=True),
    Column("capacity", Integer, nullable=False, default=0),
    Column("active", Boolean, nullable=False, default=True),
)

borrowers = Table(
    "borrowers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("full_name", String(120), nullable=False, index=True),
    Column("national_id", String(18), nullable=False, unique=True),
    Column("phone", String(20), nullable=False),
    Column("email", String(200), nullable=False),
    Column("address", String(300), nullable=False),
    Column("city", String(80), nullable=False),
    Column("district", String(80), nullable=False),
    Column("employer", String(200), nullable=False),
    Column("income", Amount(), nullable=False),
    Column("income_currency", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),
    # The core banking system's key for the person (the feed's upsert key); NULL for borrowers
    # that came from elsewhere (the demo).
    Column("external_id", String(64), nullable=True, unique=True),
    # When ``arrears purge`` replaced the person's data by placeholders (retention ended).
    Column("anonymised_at", UTCDateTime(), nullable=True),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("bucket", String(4), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("dpd_as_of", Date, nullable=True),
    Column("outstanding_amount", Amount(), nullable=False),
    Column("assignee_id", ForeignKey("staff.id"), nullable=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    Column("placed_at", UTCDateTime(), nullable=True),
    Column("placement_ends_on", Date, nullable=True),
    Column("close_reason", String(24), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("watch_until", Date, nullable=True),
    # Closed while ON_HOLD (a complaint, a dispute): a reopening returns it to the hold.
    Column("closed_while_held", Boolean, nullable=False, default=False, server_default=false()),
    Column("version", Integer, nullable=False),
    UniqueConstraint("borrower_id", "portfolio", name="uq_cases_borrower_portfolio"),
    # One index per filter, each ending in the keyset tiebreaker, plus the default ordering.
    Index("ix_cases_dpd_id", "days_past_due", "id"),
    Index("ix_cases_outstanding_id", "outstanding_amount", "id"),
    Index("ix_cases_opened_on_id", "opened_on", "id"),
    Index("ix_cases_classification_dpd", "classification", "days_past_due", "id"),
    Index("ix_cases_stage_dpd", "stage", "days_past_due", "id"),
    Index("ix_cases_status_dpd", "status", "days_past_due", "id"),
    Index("ix_cases_assignee_dpd", "assignee_id", "days_past_due", "id"),
    Index("ix_cases_agency_dpd", "agency_id", "days_past_due", "id"),
)

debts = Table(
    "debts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=True, index=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("account_number", String(32), nullable=False, unique=True),
    Column("product_type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", Amount(), nullable=False),
    Column("interest", Amount(), nullable=False),
    Column("penalty", Amount(), nullable=False),
    Column("fee", Amount(), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("paused_days", Integer, nullable=False, default=0),
    # The core's own days past due as of ``core_dpd_as_of`` (the feed's ``daysPastDue``), when it
    # sent one; the daily run prefers it (moved on by the days since) to the schedule's.
    Column("core_dpd", Integer, nullable=True),
    Column("core_dpd_as_of", Date, nullable=True),
    # The feed date whose balances these are (NULL: provisional, never confirmed by the core).
    Column("balances_as_of", Date, nullable=True),
    # The debt's own standing as the last daily run aged it (the case is as late as its worst
    # debt). Named apart from ``Debt.days_past_due(as_of)``, the schedule's rule.
    Column("aged_dpd", Integer, nullable=False, default=0, server_default="0"),
    Column("aged_bucket", String(4), nullable=False, default="M0", server_default="M0"),
)

instalments = Table(
    "instalments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("debt_id", ForeignKey("debts.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("amount_due", Amount(), nullable=False),
    Column("amount_paid", Amount(), nullable=False),
    UniqueConstraint("debt_id", "sequence", name="uq_instalments_debt_sequence"),
)

# The case timeline: every domain event, written in the transaction of the change it records.
case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", ForeignKey("staff.id"), nullable=True),
    Column("name", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_case_events_case_at", "case_id", "at"),
)

# Where someone can be reached about a borrower's debts: a number, an e-mail or an address.
contact_points = Table(
    "contact_points",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(300), nullable=False),
    Column("owner", String(24), nullable=False),
    Column("status", String(16), nullable=False),
    Column("time_zone", String(64), nullable=True),
    Column("consent_start", Time, nullable=True),
    Column("consent_end", Time, nullable=True),
    Column("consented_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)

# Contact history (manual ch. 4): every attempt, whatever its outcome — refused attempts too
# (``blocked``, with the rule), and breaches marked on contacts logged after the fact.
contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False),
    Column("contact_point_id", ForeignKey("contact_points.id"), nullable=True),
    Column("staff_id", ForeignKey("staff.id"), nullable=True),
    Column("second_staff_id", ForeignKey("staff.id"), nullable=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("party", String(24), nullable=False),
    # NULL while an attempt granted by startContact is in progress.
    Column("outcome", String(24), nullable=True),
    Column("notes", Text, nullable=False, default=""),
    Column("recording_ref", String(200), nullable=True),
    Column("callback_at", UTCDateTime(), nullable=True),
    Column("completed_at", UTCDateTime(), nullable=True),
    Column("source", String(16), nullable=False, default="LOGGED"),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("rule", String(40), nullable=True),
    Column("next_allowed_at", UTCDateTime(), nullable=True),
    Column("breaches", JSON, nullable=False, default=list),
    Column("consented", Boolean, nullable=False, default=False),
    Column("profile_version", String(32), nullable=True),
    # The key a logged contact was sent with, so that a retry finds it (the claim in
    # idempotency_keys makes the pair unique).
    Column("idempotency_key", String(128), nullable=True),
    # With the key: the digest of every input field, so that a retry that differs is refused.
    Column("request_digest", String(64), nullable=True),
    Index("ix_contacts_case_at", "case_id", "at"),
    Index("ix_contacts_staff_key", "staff_id", "idempotency_key"),
    Index("ix_contacts_borrower_at", "borrower_id", "at"),
    Index("ix_contacts_callback_at", "callback_at"),
    # Reports: the contacts of a period.
    Index("ix_contacts_at", "at"),
)

# Promises to pay (manual ch. 4), one open per case; credited to the collector or agency.
promises = Table(
    "promises",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=True),
    Column("staff_id", ForeignKey("staff.id"), nullable=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("promised_on", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("grace_days", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("paid_amount", Amount(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    # Who recorded it and the key they sent (a retry finds the promise by them).
    Column("recorded_by", ForeignKey("staff.id"), nullable=True),
    Column("idempotency_key", String(128), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_promises_case_id", "case_id", "id"),
    Index("ix_promises_recorded_by_key", "recorded_by", "idempotency_key"),
    Index("ix_promises_status_due", "status", "due_date"),
    # Reports: the promises made and resolved in a period.
    Index("ix_promises_created_at", "created_at"),
    Index("ix_promises_resolved_at", "resolved_at"),
)

# Money received. The core banking system is the ledger; a payment posted here is provisional
# until its feed, which deduplicates by reference.
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("debt_id", ForeignKey("debts.id"), nullable=False, index=True),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=False),
    Column("reference", String(64), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("posted_by", ForeignKey("staff.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("reversed", Boolean, nullable=False, default=False),
    Column("reversed_at", UTCDateTime(), nullable=True),
    Column("reversed_by", ForeignKey("staff.id"), nullable=True),
    Column("reversal_reason", Text, nullable=True),
    # The posting cured or paid off the case and closed it: its reversal reopens the case.
    Column("closed_case", Boolean, nullable=False, default=False),
    # Received while the case was WRITTEN_OFF: a recovery, reported as such (debt handling).
    Column("recovery", Boolean, nullable=False, default=False, server_default=false()),
    # The key the poster sent, so that a retry finds this payment (one per poster and key).
    Column("idempotency_key", String(128), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_payments_case_paid_at", "case_id", "paid_at", "id"),
    # Reports: the payments of a period.
    Index("ix_payments_paid_at", "paid_at"),
    # The idempotency claim (idempotency_keys) makes the pair unique; this finds the payment.
    Index("ix_payments_posted_by_key", "posted_by", "idempotency_key"),
)

# How a payment was applied: to the debt's components by the waterfall (UNAPPLIED: credit)…
payment_allocations = Table(
    "payment_allocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("payment_id", ForeignKey("payments.id"), nullable=False, index=True),
    Column("component", String(16), nullable=False),
    Column("amount", Amount(), nullable=False),
)

# …and to the instalments, oldest first (so that a reversal restores the schedule exactly).
payment_instalments = Table(
    "payment_instalments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("payment_id", ForeignKey("payments.id"), nullable=False, index=True),
    Column("instalment_id", ForeignKey("instalments.id"), nullable=False),
    Column("amount", Amount(), nullable=False),
)

# Casbin policy lines (role, resource, action), read and written by casbin-async-sqlalchemy-adapter.
casbin_rule = Table(
    "casbin_rule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ptype", String(255)),
    Column("v0", String(255)),
    Column("v1", String(255)),
    Column("v2", String(255)),
    Column("v3", String(255)),
    Column("v4", String(255)),
    Column("v5", String(255)),
)

# Append-only record of access and change (personal-data reads, reveals, denials, mutations).
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor_id", Integer, nullable=True),
    Column("actor_login", String(80), nullable=True),
    Column("actor_roles", JSON, nullable=False),
    Column("actor_agency_id", Integer, nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("operation_name", String(120), nullable=True),
    Column("operation_type", String(16), nullable=True),
    Column("document_hash", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("resource_type", String(32), nullable=True),
    Column("resource_ids", JSON, nullable=False),
    Column("borrower_ids", JSON, nullable=False),
    Column("case_ids", JSON, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("reason_code", String(40), nullable=True),
    Column("reason_text", Text, nullable=True),
    Column("changes", JSON, nullable=True),
    # Tamper evidence: entries form AUDIT_CHAINS independent HMAC chains (so concurrent writers
    # do not all queue behind one head); each entry's hash covers its content and the previous.
    Column("chain", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("chain", "seq", name="uq_audit_entries_chain_seq"),
    Index("ix_audit_entries_actor_at", "actor_login", "at"),
    Index("ix_audit_entries_action_at", "action", "at"),
    Index("ix_audit_entries_actor_action_at", "actor_id", "action", "at"),
    Index("ix_audit_entries_at", "at"),
)

# The head of each audit chain: its last sequence number and hash (locked while appending).
audit_heads = Table(
    "audit_heads",
    metadata,
    Column("chain", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Mutations retried with the same idempotency key take effect once: the first commit records
# the key with its result in the same transaction as the change.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", ForeignKey("staff.id"), nullable=False),
    Column("key", String(128), nullable=False),
    Column("operation", String(64), nullable=False),
    Column("case_id", ForeignKey("cases.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("staff_id", "key", name="uq_idempotency_keys_staff_key"),
)


# ---- the daily cycle (issue 10) ----------------------------------------------------------------

# One row per feed file imported: the header, its digest (the same file twice is recognised) and
# the counts of the summary.
feed_imports = Table(
    "feed_imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(64), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("digest", String(64), nullable=False, index=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("rows", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("summary", JSON, nullable=False, default=dict),
)

# Charge-offs the core booked (stored here; the debt-handling issue applies them).
charge_offs = Table(
    "charge_offs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("debt_id", ForeignKey("debts.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
    Column("applied_at", UTCDateTime(), nullable=True),
    UniqueConstraint("debt_id", "date", name="uq_charge_offs_debt_date"),
)

# The day's loan book per portfolio and product: the denominator of the overdue rate.
loan_book = Table(
    "loan_book",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("date", Date, nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("product_type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", Amount(), nullable=False),
    UniqueConstraint("date", "portfolio", "product_type", "currency", name="uq_loan_book_date_key"),
)

# The cost of collection the core records (call centre, letters, legal fees…), per day.
cost_records = Table(
    "cost_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("date", Date, nullable=False),
    Column("portfolio", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Amount(), nullable=False),
    UniqueConstraint("date", "portfolio", "category", "currency", name="uq_cost_records_key"),
)

# A case's classification over time: one row per period (to_date NULL: the current one).
classification_history = Table(
    "classification_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("bucket", String(4), nullable=False),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=True),
    Column("policy_version", String(32), nullable=False),
    # The first day of the delinquent spell a delinquent period belongs to, or that a current
    # (M0) period ends (NULL: the period before it was current too, or there was none): what
    # recoveries and their days are read from, kept as each period opens (reports).
    Column("spell_from", Date, nullable=True),
    Index("ix_classification_history_case_from", "case_id", "from_date"),
    # Reports: the periods that began in a report's period (recoveries).
    Index("ix_classification_history_from", "from_date"),
    # At most one open period per case (the daily run closes it before opening the next).
    Index(
        "uq_classification_history_open",
        "case_id",
        unique=True,
        postgresql_where=text("to_date IS NULL"),
        sqlite_where=text("to_date IS NULL"),
    ),
)

# Each debt as the daily run left it on a date: what reports read (roll rates, aging, owners).
debt_snapshots = Table(
    "debt_snapshots",
    metadata,
    Column("debt_id", ForeignKey("debts.id"), primary_key=True, autoincrement=False),
    Column("as_of", Date, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=True),
    Column("portfolio", String(64), nullable=False),
    Column("product_type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance", Amount(), nullable=False),
    Column("principal", Amount(), nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("bucket", String(4), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assignee_id", ForeignKey("staff.id"), nullable=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    # The treatment the case was under that day (strategies): what variant comparisons read.
    Column("strategy", String(64), nullable=True),
    Column("strategy_version", String(32), nullable=True),
    Column("variant", String(16), nullable=True),
    # The case's status and stage that day (reports: what was in collection; NULL before 0010).
    Column("case_status", String(16), nullable=True),
    Column("case_stage", String(16), nullable=True),
    Index("ix_debt_snapshots_as_of", "as_of"),
    # Reports: a case's snapshots on a run (the key or owner of a complaint, promise, recovery).
    Index("ix_debt_snapshots_case_as_of", "case_id", "as_of"),
    # Reports: a debt's last placed snapshot before a payment (commission, the contract's tail).
    Index(
        "ix_debt_snapshots_placed",
        "debt_id",
        "as_of",
        postgresql_where=text("agency_id IS NOT NULL"),
        sqlite_where=text("agency_id IS NOT NULL"),
    ),
)

# One row per date the daily run completed (idempotency and catch-up), with its summary.
daily_runs = Table(
    "daily_runs",
    metadata,
    Column("as_of", Date, primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("summary", JSON, nullable=False, default=dict),
)

# Locks of batch jobs on SQLite (PostgreSQL uses advisory locks): a row held while a job runs.
job_locks = Table(
    "job_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(120), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
)

# Early-warning signals (manual ch. 3): raised once per cause, then acknowledged and handled.
warnings = Table(
    "warnings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False),
    Column("rule", String(40), nullable=False),
    Column("rule_version", String(32), nullable=False),
    # What raised it (an instalment, a promise, a signal, a DPD band…): one warning per cause.
    Column("cause", String(120), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    # Whom it reached: the case's collector or agency when it was raised.
    Column("assignee_id", ForeignKey("staff.id"), nullable=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", ForeignKey("staff.id"), nullable=True),
    Column("handled_at", UTCDateTime(), nullable=True),
    Column("handled_by", ForeignKey("staff.id"), nullable=True),
    Column("note", Text, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    UniqueConstraint("case_id", "rule", "cause", name="uq_warnings_case_rule_cause"),
    Index("ix_warnings_raised_at_id", "raised_at", "id"),
    Index("ix_warnings_status_id", "status", "id"),
)

# Signals from partner systems (credit bureau, the lender's risk engine) about a borrower.
external_signals = Table(
    "external_signals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("details", Text, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("posted_by", ForeignKey("staff.id"), nullable=True),
    Column("idempotency_key", String(128), nullable=True),
    Column("request_digest", String(64), nullable=True),
    Index("ix_external_signals_posted_by_key", "posted_by", "idempotency_key"),
)

# Complaints and disputes (manual 9.3): an open one stops outbound contact and the collection
# clock on its case (never the contractual DPD).
complaints = Table(
    "complaints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("written", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("filed_at", UTCDateTime(), nullable=False),
    Column("filed_by", ForeignKey("staff.id"), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", ForeignKey("staff.id"), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    # Reports: the complaints of a period.
    Index("ix_complaints_filed_at", "filed_at"),
)

# Special customer groups (manual 5.3): facts about the borrower, so they cover all their cases.
# A flag is set once at a time: the row of a lifted flag stays, with who lifted it and why.
borrower_flags = Table(
    "borrower_flags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False),
    Column("flag", String(24), nullable=False),
    Column("evidence_ref", String(200), nullable=True),
    Column("note", Text, nullable=True),
    Column("set_by", ForeignKey("staff.id"), nullable=True),
    Column("set_at", UTCDateTime(), nullable=False),
    Column("review_on", Date, nullable=True),
    Column("lifted_at", UTCDateTime(), nullable=True),
    Column("lifted_by", ForeignKey("staff.id"), nullable=True),
    Column("lift_note", Text, nullable=True),
    Index("ix_borrower_flags_borrower_flag", "borrower_id", "flag"),
    # A flag is set at most once at a time per borrower (flagBorrower: FLAG_ALREADY_SET).
    Index(
        "uq_borrower_flags_active",
        "borrower_id",
        "flag",
        unique=True,
        postgresql_where=text("lifted_at IS NULL"),
        sqlite_where=text("lifted_at IS NULL"),
    ),
)

# The decisions feed to core banking and the credit bureau: every decision once, in id order
# (writers serialise their inserts so that ids commit in order; the id is the cursor). A decision
# projected from a case event names it (``event_id``: once per event); ``borrower_id`` is set only
# for a decision about a borrower as a whole (a case's decision reaches its borrower via the case).
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("case_id", ForeignKey("cases.id"), nullable=True, index=True),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=True),
    Column("actor_id", ForeignKey("staff.id"), nullable=True),
    Column("event_id", ForeignKey("case_events.id"), nullable=True, unique=True),
    Column("data", JSON, nullable=False),
)


# ---- debt handling (issue 11) ------------------------------------------------------------------

# Restructurings and settlements (manual ch. 6), proposed by one person and decided by another
# whose approval limits cover the concession. ``concession`` is what the lender gives up (a
# settlement's discount, a waiver's amount, interest capitalised away by a plan), counted
# cumulatively per case against the limits; ``required_authority`` names the lowest role whose
# limits cover it (NULL: none does).
restructurings = Table(
    "restructurings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    # The case's outstanding balance when proposed (the base of the share limits).
    Column("balance", Amount(), nullable=False),
    Column("concession", Amount(), nullable=False),
    Column("settlement_amount", Amount(), nullable=True),
    Column("settle_by", Date, nullable=True),
    Column("waiver_amount", Amount(), nullable=True),
    # A plan: the amount its schedule replaces and what it capitalises (shown line by line).
    Column("replaced_amount", Amount(), nullable=True),
    Column("capitalised_interest", Amount(), nullable=True),
    Column("grace_days", Integer, nullable=False, default=0),
    Column("required_authority", String(32), nullable=True),
    Column("reason", Text, nullable=False),
    Column("proposed_by", ForeignKey("staff.id"), nullable=False),
    Column("proposed_at", UTCDateTime(), nullable=False),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    Column("decided_by", ForeignKey("staff.id"), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    # What the case was when the plan took effect: a broken plan returns it there.
    Column("previous_stage", String(16), nullable=True),
    # Plan payments made on time in a row (no cure before the configured number).
    Column("payments_in_row", Integer, nullable=False, default=0),
    Column("paid_amount", Amount(), nullable=False, default=0),
    Column("ended_at", UTCDateTime(), nullable=True),
    # A settlement: the debts it covers (ids, recorded when it is first evaluated after its
    # approval) and, once paid, each settled debt's status before (a reversal restores it).
    Column("debt_ids", JSON, nullable=True),
    Column("debt_statuses", JSON, nullable=True),
    # When payments were last counted against it (the daily run takes those paid or reversed
    # since, e.g. by the core's feed).
    Column("evaluated_at", UTCDateTime(), nullable=True),
    Column("idempotency_key", String(128), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_restructurings_case_id", "case_id", "id"),
    Index("ix_restructurings_status_id", "status", "id"),
    Index("ix_restructurings_proposed_by_key", "proposed_by", "idempotency_key"),
)

# A plan's new schedule: the overlay on the core's schedule until the core books it.
restructuring_instalments = Table(
    "restructuring_instalments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("restructuring_id", ForeignKey("restructurings.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("amount_paid", Amount(), nullable=False, default=0),
    Column("paid_on", Date, nullable=True),
    UniqueConstraint("restructuring_id", "sequence", name="uq_restructuring_instalments_seq"),
)

# Referrals to legal: made when every condition holds, approved by a manager who re-checks them.
legal_referrals = Table(
    "legal_referrals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    # Every condition with its result when referred (and again when decided).
    Column("conditions", JSON, nullable=False),
    Column("referred_by", ForeignKey("staff.id"), nullable=False),
    Column("referred_at", UTCDateTime(), nullable=False),
    Column("decided_by", ForeignKey("staff.id"), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_legal_referrals_case_id", "case_id", "id"),
    # At most one pending referral per case.
    Index(
        "uq_legal_referrals_pending",
        "case_id",
        unique=True,
        postgresql_where=text("status = 'PENDING'"),
        sqlite_where=text("status = 'PENDING'"),
    ),
)

# The legal route of a case and its steps (filed, hearing, judgment, enforcement, closed).
legal_actions = Table(
    "legal_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("step", String(16), nullable=False),
    Column("body", String(200), nullable=True),
    Column("reference", String(100), nullable=True),
    Column("occurred_on", Date, nullable=False),
    Column("amount", Amount(), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("recorded_by", ForeignKey("staff.id"), nullable=True),
    Column("recorded_at", UTCDateTime(), nullable=False),
    # The recorder's idempotency key (idempotency_keys makes the pair unique).
    Column("idempotency_key", String(128), nullable=True),
    Index("ix_legal_actions_case_id", "case_id", "occurred_on", "id"),
    Index("ix_legal_actions_recorded_by_key", "recorded_by", "idempotency_key"),
)

# Write-offs: the core's charge-off applied, or a manager's decision (sent out as a request).
write_offs = Table(
    "write_offs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("source", String(16), nullable=False),
    Column("reason_code", String(32), nullable=False),
    Column("reason_text", Text, nullable=True),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("charge_off_id", ForeignKey("charge_offs.id"), nullable=True),
    Column("written_off_by", ForeignKey("staff.id"), nullable=True),
    # From the start of a charge-off's date in the portfolio's time zone; a manager's: now.
    Column("written_off_at", UTCDateTime(), nullable=False),
    # The write-off policy version a manager's write-off was judged by (a charge-off: none).
    Column("policy_version", String(32), nullable=True),
)

# Evidence packs: the zip as generated (its parts' hashes in the manifest), for download.
evidence_packs = Table(
    "evidence_packs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("manifest", JSON, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("clear", Boolean, nullable=False),
    Column("generated_by", ForeignKey("staff.id"), nullable=False),
    Column("generated_at", UTCDateTime(), nullable=False),
)

# Maker–checker over rules and power: a change (role grant, conduct profile, waterfall,
# approval limits, warning rules, legal policy) proposed by one person and approved by another.
rule_changes = Table(
    "rule_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("effective_from", UTCDateTime(), nullable=False),
    Column("proposed_by", ForeignKey("staff.id"), nullable=False),
    Column("proposed_at", UTCDateTime(), nullable=False),
    Column("decided_by", ForeignKey("staff.id"), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_rule_changes_status_id", "status", "id"),
)

# The approved versions of each rule set (kind, name): the loader takes the latest version in
# effect at an instant, else the checked-in default beside the code that reads it.
rule_set_versions = Table(
    "rule_set_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("effective_from", UTCDateTime(), nullable=False),
    Column("change_id", ForeignKey("rule_changes.id"), nullable=True),
    UniqueConstraint("kind", "name", "version", name="uq_rule_set_versions_kind_name_version"),
    Index("ix_rule_set_versions_lookup", "kind", "name", "effective_from"),
)


# ---- strategies and notices (issue 12) ---------------------------------------------------------

# Each open case's treatment as the last daily run left it: the strategy (and version) that
# governs it, the variant (champion or challenger, by a stable hash of the case), the segment it
# is in since ``entered_on``, the last step taken and when the next one falls due.
case_treatments = Table(
    "case_treatments",
    metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True, autoincrement=False),
    Column("strategy", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("variant", String(16), nullable=False),
    # NULL: no segment of the strategy takes the case (no steps).
    Column("segment", String(64), nullable=True),
    Column("entered_on", Date, nullable=False),
    Column("step", String(64), nullable=True),
    Column("step_on", Date, nullable=True),
    Column("next_step", String(64), nullable=True),
    Column("next_action_on", Date, nullable=True),
    Column("as_of", Date, nullable=False),
)

# Every step of a strategy the daily run took on a case, once per segment entry: done,
# suppressed (a protection or conduct rule, named in ``rule``), refused by the life cycle, or
# skipped (overtaken by a later step due the same day). The unique key makes a repeated run a
# no-op.
treatment_actions = Table(
    "treatment_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("variant", String(16), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("entered_on", Date, nullable=False),
    Column("step", String(64), nullable=False),
    Column("action", String(24), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rule", String(40), nullable=True),
    Column("as_of", Date, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    # The entry is the case's stay in a segment of a strategy: a change of variant alone (a
    # promotion, a new share) keeps it, so no step is taken twice.
    UniqueConstraint(
        "case_id",
        "strategy",
        "segment",
        "entered_on",
        "step",
        name="uq_treatment_actions_entry_step",
    ),
    Index("ix_treatment_actions_action_status", "action", "status"),
)

# Work a strategy gives to people (a call, a legal review, a settlement offer): for the case's
# collector or agency when it was created, shown on their worklist with the step and the reason.
tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("action_id", ForeignKey("treatment_actions.id"), nullable=True, unique=True),
    Column("kind", String(24), nullable=False),
    Column("strategy", String(64), nullable=True),
    Column("step", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("party", String(24), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("assignee_id", ForeignKey("staff.id"), nullable=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    Column("completed_by", ForeignKey("staff.id"), nullable=True),
    Column("note", Text, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_tasks_case_id", "case_id", "id"),
    # The ``tasks`` listing's order (earliest due first, then id); its scope goes through cases.
    Index("ix_tasks_due_on_id", "due_on", "id"),
)

# The outbox: notices a strategy step (or a person) queued, sent by ``arrears outbox`` to the
# gateway, and their delivery as the gateway reported it. The rendered body is kept (with its
# digest) as evidence of what was sent; ``rule`` names what suppressed or failed it.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False),
    Column("borrower_id", ForeignKey("borrowers.id"), nullable=False),
    Column("action_id", ForeignKey("treatment_actions.id"), nullable=True, unique=True),
    Column("contact_point_id", ForeignKey("contact_points.id"), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("party", String(24), nullable=False),
    Column("template", String(64), nullable=False),
    Column("template_version", String(32), nullable=False),
    # The template's purpose when queued (REMINDER, DEMAND…): a delivered DEMAND is what the
    # legal condition counts. NULL: no approved template was found.
    Column("purpose", String(16), nullable=True),
    Column("language", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("rule", String(40), nullable=True),
    # Not before this instant (the quiet hours of the recipient's known time zones).
    Column("not_before", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("failed_at", UTCDateTime(), nullable=True),
    Column("provider_ref", String(200), nullable=True),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("body_digest", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    # Why the last send failed, in words with no personal data (a status code, a timeout).
    Column("last_error", String(300), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_notices_status_not_before", "status", "not_before", "id"),
    Index("ix_notices_case_id", "case_id", "id"),
    Index("ix_notices_created_at_id", "created_at", "id"),
)

# Delivery receipts as the gateway sent them (``recordNoticeDelivery``): evidence, kept whole.
notice_receipts = Table(
    "notice_receipts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("notice_id", ForeignKey("notices.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("provider_ref", String(200), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("recorded_by", ForeignKey("staff.id"), nullable=True),
)


# ---- running it for real (issue 14) --------------------------------------------------------------

# OAuth 2.0 clients of partner agencies (client credentials). Each acts as its own service
# account (``staff_id``: login ``client:<client_id>``, the agency's agent role), so scopes,
# permissions, masking and the audit trail treat it like any agency login; revoking the client
# deactivates the account.
api_clients = Table(
    "api_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=False, index=True),
    Column("staff_id", ForeignKey("staff.id"), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("created_by", ForeignKey("staff.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", ForeignKey("staff.id"), nullable=True),
    # The persisted operations the client may send: hex SHA-256 digests of the exact text of
    # GraphQL documents, sorted. NULL (never JSON null): any operation.
    Column("allowed_operations", JSON(none_as_null=True), nullable=True),
    Column("version", Integer, nullable=False, default=1),
)

# A client's secrets: only a digest is kept. A rotation gives the old secret an expiry (the
# overlap window) and adds a new one; both work until then.
api_client_secrets = Table(
    "api_client_secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("api_client_id", ForeignKey("api_clients.id"), nullable=False, index=True),
    Column("secret_digest", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
)

# Legal holds: while a case has one that is not released, nothing of it is purged.
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("placed_by", ForeignKey("staff.id"), nullable=True),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("released_by", ForeignKey("staff.id"), nullable=True),
    Column("released_at", UTCDateTime(), nullable=True),
)

# Limits shared by every worker when no Redis is configured: fixed-window hit counters ...
limit_counters = Table(
    "limit_counters",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window", Integer, primary_key=True, autoincrement=False),
    Column("hits", Integer, nullable=False),
)

# ... and leases of the per-caller concurrency cap (a lease expires if its worker dies).
caller_leases = Table(
    "caller_leases",
    metadata,
    Column("token", String(40), primary_key=True),
    Column("caller", String(120), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_caller_leases_caller_expires", "caller", "expires_at"),
)
