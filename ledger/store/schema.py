"""The ledger's schema: the single source of truth for alembic (``migrations/env.py``) and tests.

Table and column names are a user interface (operators query them with ``sqlite3``); they are
documented in the README and must not change without a migration and a README update.
Timestamps are ISO-8601 UTC text (``2026-11-24T20:01:36.123456Z``) so they read well in sqlite3
and sort correctly; JSON columns hold JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa

from ledger.models import DepMatch, ErrorKind, RowStatus, RunStatus

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# the CHECK constraints' value lists, from the enums (a new member needs a migration too)
ROW_STATUSES = tuple(s.value for s in RowStatus)
ERROR_KINDS = tuple(k.value for k in ErrorKind)
RUN_STATUSES = tuple(s.value for s in RunStatus)
DEP_MATCHES = tuple(m.value for m in DepMatch)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("global_path", sa.Text),
    sa.Column("global_sha256", sa.String(64)),
    sa.Column("profile_sha256", sa.String(64)),  # sha256 of the normalised --profile JSON (rev 0002)
    sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_valid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_invalid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("sha256", "action", "global_sha256", "profile_sha256"),
)

# import_id's rows wait until the rows of depends_on_import_id for the same entity (`match`) are final
import_deps = sa.Table(
    "import_deps",
    metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), primary_key=True),
    sa.Column("depends_on_import_id", sa.Integer, sa.ForeignKey("imports.id"), primary_key=True),
    # entity | site | all (models.DepMatch; rev 0003: earlier deps were by location = site)
    sa.Column("match", sa.String(16), nullable=False, server_default=DepMatch.SITE.value),
    sa.CheckConstraint(_in("match", DEP_MATCHES), name="match"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("heartbeat_at", sa.String(32)),
    sa.Column("finished_at", sa.String(32)),
    sa.Column("import_id", sa.Integer),  # --import filter, NULL = all imports
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("retry_profile", sa.String(32), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("claimed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("succeeded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("released", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("throttled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("exit_code", sa.Integer),
    sa.Column("message", sa.Text),
    sa.Column("blocked", sa.Integer, nullable=False, server_default="0"),  # rows blocked by a failed prerequisite (rev 0003)
    sa.CheckConstraint(_in("status", RUN_STATUSES), name="status"),
)

ledger_rows = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),  # spreadsheet row number, header = 1
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_kind", sa.String(16)),
    sa.Column("error_code", sa.String(64)),
    sa.Column("http_status", sa.Integer),
    sa.Column("error_message", sa.Text),
    sa.Column("tracking_id", sa.String(128)),
    sa.Column("business_key", sa.Text),  # e.g. the email for user.create
    sa.Column("location_key", sa.Text),  # location id or name the row concerns, as written
    sa.Column("payload", sa.Text, nullable=False),  # normalised row, JSON
    sa.Column("result", sa.Text),  # JSON
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),  # the run holding/last holding the claim
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("started_at", sa.String(32)),
    sa.Column("finished_at", sa.String(32)),
    # rev 0003, normalised (ledger.entities): the person/workspace/site the row acts on,
    # e.g. "person:ana@x.com", "person:id:<uuid>", "workspace:<site>/<name>", "site:<name>", "site:id:<uuid>"
    sa.Column("entity_key", sa.Text),
    sa.Column("site_key", sa.Text),  # the site the row concerns ("site:…", as entity_key of a location row)
    sa.Column("superseded_by", sa.Integer, sa.ForeignKey("ledger.id")),  # status superseded: the row standing for it
    sa.UniqueConstraint("import_id", "line_no"),
    sa.CheckConstraint(_in("status", ROW_STATUSES), name="status"),
    sa.CheckConstraint(f"error_kind IS NULL OR {_in('error_kind', ERROR_KINDS)}", name="error_kind"),
    sa.Index(None, "status", "import_id", "id"),
    sa.Index(None, "run_id", "status"),
    sa.Index(None, "import_id", "entity_key"),
    sa.Index(None, "import_id", "site_key"),
    # rev 0005: status and site_key too, so the report counts entities from this index alone
    sa.Index(None, "entity_key", "action", "status", "site_key"),
)

#: attempts that were retried (the summary's ``retries``); the partial index below holds only these
RETRIED = "outcome IN ('retry', 'throttled')"

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("row_id", sa.Integer, sa.ForeignKey("ledger.id"), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("attempt_no", sa.Integer, nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32)),
    sa.Column("outcome", sa.String(16), nullable=False),  # succeeded/skipped/failed/retry/throttled/released
    sa.Column("http_status", sa.Integer),
    sa.Column("retry_after_s", sa.Float),
    sa.Column("tracking_id", sa.String(128)),
    sa.Column("error_kind", sa.String(16)),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("result", sa.Text),  # JSON: what this execution found/did (rev 0003; a re-check never overwrites it)
    sa.Index(None, "row_id"),
    sa.Index(None, "run_id"),
    # rev 0006: the retried attempts alone (the summary counts them; the succeeded ones pay nothing)
    sa.Index(None, "outcome", sqlite_where=sa.text(RETRIED)),
)

# run-wide pause (Retry-After) shared by every worker on this ledger; one row per scope ("webex")
cooldowns = sa.Table(
    "cooldowns",
    metadata,
    sa.Column("scope", sa.String(32), primary_key=True),
    sa.Column("paused_until", sa.Float, nullable=False),  # unix time
    sa.Column("reason", sa.Text),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

# Views are not part of MetaData (alembic does not compare them); migrations create them from here.
FAILED_ROWS_VIEW = """
CREATE VIEW failed_rows AS
SELECT l.id AS row_id, l.import_id, i.path AS file, l.line_no, l.action, l.status, l.business_key,
       l.error_kind, l.error_code, l.http_status, l.error_message, l.tracking_id, l.attempts,
       l.updated_at
FROM ledger AS l JOIN imports AS i ON i.id = l.import_id
WHERE l.status IN ('failed', 'invalid')
"""
# rows waiting on a failed prerequisite of the same entity (error_message names its row, line, error)
BLOCKED_ROWS_VIEW = """
CREATE VIEW blocked_rows AS
SELECT l.id AS row_id, l.import_id, i.path AS file, l.line_no, l.action, l.entity_key, l.business_key,
       l.error_code, l.error_message, l.updated_at
FROM ledger AS l JOIN imports AS i ON i.id = l.import_id
WHERE l.status = 'blocked'
"""
# one row per person / workspace / site (rev 0005): the complete listing entities.csv leaves to sqlite3
# (entities.csv lists the entities that need attention). The state is the report's rule
# (ledger.reporting.tallies): failed > blocked > pending (a step pending or running) > complete.
ENTITIES_VIEW = """
CREATE VIEW entities AS
SELECT substr(entity_key, 1, instr(entity_key, ':') - 1) AS kind, entity_key, min(site_key) AS site_key,
       CASE WHEN max(status IN ('failed', 'invalid')) THEN 'failed'
            WHEN max(status = 'blocked') THEN 'blocked'
            WHEN max(status IN ('pending', 'running')) THEN 'pending'
            ELSE 'complete' END AS state,
       count(*) AS steps, group_concat(action || ' ' || status, ', ') AS statuses
FROM ledger
WHERE entity_key IS NOT NULL AND status != 'superseded'
GROUP BY entity_key
"""
VIEWS = {"failed_rows": FAILED_ROWS_VIEW, "blocked_rows": BLOCKED_ROWS_VIEW, "entities": ENTITIES_VIEW}
