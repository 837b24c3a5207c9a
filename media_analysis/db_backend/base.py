"""The backend's ``DatabaseWrapper``; the retry policy is in the package's ``__init__``."""

from __future__ import annotations

import weakref
from typing import Any

from django_prometheus.db.backends.postgresql import base

from media_analysis.db_backend import current_policy, with_retries

# Pools whose server has answered once in this process (see get_new_connection).
_pools_reached: weakref.WeakSet = weakref.WeakSet()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        policy = current_policy()
        connect = super().get_new_connection
        if not policy.retries:
            return connect(conn_params)
        retry_on = (self.Database.OperationalError,)
        secret = self.settings_dict.get("PASSWORD") or ""
        pool = self.pool
        if pool is None:
            return with_retries(lambda: connect(conn_params), policy, retry_on, secret)
        # With the pool, psycopg_pool connects in its own threads and retries by
        # itself (backoff from 1 s, for up to reconnect_timeout); getconn() only
        # waits, up to DB_POOL_TIMEOUT, and never sees the error, so retrying it
        # would multiply that wait. The policy runs once per pool instead, before its
        # first connection: a direct connection proves the server answers (a command
        # started before PostgreSQL fails after the same 3.5 s as a worker). From
        # then on the pool reconnects by itself.
        if pool not in _pools_reached:
            probe = self.Database.connect
            with_retries(lambda: probe(**conn_params).close(), policy, retry_on, secret)
            _pools_reached.add(pool)
        return connect(conn_params)
