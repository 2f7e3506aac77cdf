"""Durable requests on DBOS: each request a workflow (plan, submit, poll, download) that survives a
dead worker, with queues shared by every worker on one database (docs/scale-out.md).

Importing this package does not import dbos; `require_dbos()` (called by everything that needs
it) says how to install it when it is missing.
"""

from __future__ import annotations

from .settings import (
    DATABASE_ENV,
    DurableSettings,
    default_database_url,
    queue_name,
    require_dbos,
    workflow_id,
)

__all__ = [
    "DATABASE_ENV",
    "DurableSettings",
    "default_database_url",
    "queue_name",
    "require_dbos",
    "workflow_id",
]
