"""Database models: flows, presets, tokens, domain data (SPEC §2), the event inbox, runs and steps.

All timestamps are stored as naive UTC (SQLite has no time zones); :func:`utcnow` makes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.base import Base, dialect_options, new_id, partial_index, utcnow


class Flow(Base):
    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    event_type: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sweep_watermark: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    triggered_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    # runs held back by the flow's frequency rule (settings.frequency), status ``suppressed``
    suppressed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_triggered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_flows_event_type_enabled", "event_type", "enabled"),)


class FlowVersion(Base):
    """One saved state of a flow (SPEC §11 «Versions»): its name and definition as stored (secrets
    sealed), who saved it and a summary of what changed from the version before."""

    __tablename__ = "flow_versions"

    id: Mapped[str] = mapped_column(String(80), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(200), default="")
    author_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(16), default="save")  # create|save|import|restore|…
    summary: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("uq_flow_versions_flow_number", "flow_id", "number", unique=True),)


class Preset(Base):
    __tablename__ = "presets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Connection(Base):
    """A shared connection («подключение», SPEC §11): an action's access params, stored once,
    referenced by id from any number of actions; its secrets sealed as a node's are."""

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # ingest | read | admin (plugin/api/auth.py); tokens made before scopes existed are admin
    scope: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # written at most once a minute per token (plugin/api/auth.py: TokenUse)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class HookSource(Base):
    """A site-form source (SPEC §11): ``POST /api/v1/hooks/{key}`` stores a custom event named ``name``.

    The key is looked up by its SHA-256 (``key_hash``) and kept sealed with the secret box
    (``key_sealed``) so the UI can show the URL again; revoking keeps the row, so a revoked key
    answers exactly as an unknown one.
    """

    __tablename__ = "hook_sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    marker: Mapped[str | None] = mapped_column(String(500), nullable=True)
    city: Mapped[str | None] = mapped_column(String(200), nullable=True)
    country: Mapped[str | None] = mapped_column(String(200), nullable=True)
    referrer: Mapped[str | None] = mapped_column(Text, nullable=True)
    domain: Mapped[str | None] = mapped_column(String(500), nullable=True)
    landing_page: Mapped[str | None] = mapped_column(Text, nullable=True)
    utm_source: Mapped[str | None] = mapped_column(String(500), nullable=True)
    utm_medium: Mapped[str | None] = mapped_column(String(500), nullable=True)
    utm_campaign: Mapped[str | None] = mapped_column(String(500), nullable=True)
    utm_term: Mapped[str | None] = mapped_column(String(500), nullable=True)
    utm_content: Mapped[str | None] = mapped_column(String(500), nullable=True)
    roistat_param_1: Mapped[str | None] = mapped_column(String(500), nullable=True)
    roistat_param_2: Mapped[str | None] = mapped_column(String(500), nullable=True)
    roistat_param_3: Mapped[str | None] = mapped_column(String(500), nullable=True)
    roistat_param_4: Mapped[str | None] = mapped_column(String(500), nullable=True)
    roistat_param_5: Mapped[str | None] = mapped_column(String(500), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Client(Base):
    __tablename__ = "clients"

    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    company: Mapped[str | None] = mapped_column(String(500), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


CLIENT_FIELDS = ("name", "company", "phone", "email", "fields")


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status_group: Mapped[str] = mapped_column(String(16), default="in_work")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    visit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    responsible_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # the attribution's second cursor: paid orders changed since it last read (engine/attribution.py)
    __table_args__ = (partial_index("ix_orders_paid_updated", "updated_at", where="paid_at IS NOT NULL"),)


ORDER_FIELDS = (
    "price",
    "cost",
    "status",
    "status_group",
    "created_at",
    "paid_at",
    "client_id",
    "visit_id",
    "responsible_user_id",
    "fields",
)


class CustomEvent(Base):
    __tablename__ = "custom_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    visit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


STATUS_CHANGED = "order_status_changed"  # the trigger of an order's status change (ingest/orders.py)


class Event(Base):
    """The engine's inbox: one row per thing that may fire flows, stored with the data it came with."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # set on date-relative (N-day) events only: ``days:{flow_id}:{order_id}``, recorded once
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # why the event could not be dispatched (it is then dispatched, with no run): a poison event
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        # claims and the sweeper look up undispatched events only, by id: the index holds just
        # those, so dispatching an event removes it rather than adding an entry
        partial_index("ix_events_undispatched_id", "id", where="dispatched_at IS NULL"),
        partial_index("ix_events_failed_id", "id", where="error IS NOT NULL"),
        # ``INSERT … ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL`` names this index
        partial_index("uq_events_dedupe_key", "dedupe_key", where="dedupe_key IS NOT NULL", unique=True),
        # a client's timeline: its deals' status changes (no entry for any other event)
        partial_index(
            "ix_events_status_changes", "subject_id", "created_at", where=f"trigger = '{STATUS_CHANGED}'"
        ),
    )


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    flow_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flow_version: Mapped[int] = mapped_column(Integer, default=0)
    flow_name: Mapped[str] = mapped_column(String(200), default="")
    definition: Mapped[dict] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(16))  # event | schedule | direct
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    event_type: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    triggered: Mapped[bool] = mapped_column(Boolean, default=False)
    context: Mapped[dict] = mapped_column(JSON)
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # who its first action writes to (engine/recipients.py): the history's «получатель» filter
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # the run's branch once it ended: a split's variant, else its first succeeded action node
    # (NULL: it reached no one); the analytics' reach per branch (issue #19)
    branch: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    counted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        # runs not succeeded: the open ones the sweeper resumes and the failed / not-triggered
        # ones the history is filtered by; succeeded runs, nearly all of them, stay out
        partial_index("ix_runs_status_created", "status", "created_at", "id", where="status <> 'succeeded'"),
        Index("ix_runs_created", "created_at", "id"),
        # a scenario's history; its reach (distinct clients by branch) from the index alone
        dialect_options(
            Index("ix_runs_flow_created", "flow_id", "created_at"),
            postgresql_include=["client_id", "branch", "trigger"],
        ),
        partial_index("ix_runs_order_id", "order_id", where="order_id IS NOT NULL"),
        partial_index("ix_runs_client_id", "client_id", where="client_id IS NOT NULL"),
        # exact and prefix look-ups (``LIKE 'x%'`` on PostgreSQL needs the pattern operator class)
        dialect_options(
            Index("ix_runs_recipient", "recipient"),
            postgresql_ops={"recipient": "varchar_pattern_ops"},
            postgresql_where=text("recipient IS NOT NULL"),
            sqlite_where=text("recipient IS NOT NULL"),
        ),
    )


# ``ix_runs_status_created``'s predicate as a query term. SQLite uses a partial index only for a
# query holding the very same term, and PostgreSQL cannot prove it from ``status = $1`` in a
# generic (prepared) plan; written out literally it serves both.
NOT_SUCCEEDED = Run.status != literal_column("'succeeded'")


class FrequencySlot(Base):
    """One of the N runs a flow's frequency rule lets through per subject (client, order or visitor).

    A run takes a free slot in the transaction that stores it: a slot not yet inserted, or one
    whose ``used_at`` is older than the rule's window (never free again for a rule over all
    time). The primary key and a conditional UPDATE make the claim atomic on both databases, and
    the table outlives run retention, so the rule stays exact across restarts and pruning.
    """

    __tablename__ = "frequency_slots"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)  # "client:42", "order:7"…
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Step(Base):
    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # looked up through uq_steps_run_node (run_id, node_id): no index of its own
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(100))
    node_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    verdict: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    output: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resume_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("uq_steps_run_node", "run_id", "node_id", unique=True),)


# room on each page for the action's outcome, written in place (migration 0005)
dialect_options(Step.__table__, postgresql_with={"fillfactor": 80})


class Suppression(Base):
    """An entry of the suppression list (SPEC §11): an e-mail or a phone that a channel never reaches.

    ``address`` is normalised (e-mail lower-case, phone E.164); ``channel`` is ``email``, ``sms``
    or ``all``; ``source`` says who added it: ``api``, ``unsubscribe`` (the one-click link) or
    ``import`` (CSV).
    """

    __tablename__ = "suppressions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))  # email | phone
    address: Mapped[str] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("uq_suppressions_address_channel", "address", "channel", unique=True),
        Index("ix_suppressions_created", "created_at", "id"),
    )


# the analytics' tables join the same metadata (their own module: this one is near its size budget)
from plugin.storage.stats_models import (  # noqa: E402,F401
    Conversion,
    ConversionOrder,
    FlowStat,
    FlowStatDay,
    StatsGroup,
    StatsMark,
    StatsSeen,
)
