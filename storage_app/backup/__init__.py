"""Backups and restore: ``manage.py backup`` / ``verify_backup`` / ``restore``.

A backup *set* is one folder: a ``pg_dump`` of the project's tables taken in one
snapshot (``database/``), a copy of every stored file except ``temp/`` (``files/``,
hard-linked to the previous set where unchanged) and ``manifest.json`` describing
both. See docs/backup.md for the operator's side.

Modules: ``manifest`` (the set's description, streamed), ``pgtools`` (which
``pg_dump`` / ``pg_restore`` / ``psql``), ``dump`` (the database side), ``files``
(the storage side), ``sets`` (naming, locking, retention), ``create`` / ``verify``
/ ``restore`` (the three operations), ``record`` (each run as a row, hence in the
audit log), ``status`` (metrics, dashboard and readiness), ``tasks`` (nightly).
"""
