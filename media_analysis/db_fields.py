"""Model fields for PostgreSQL types Django has no field for."""

from __future__ import annotations

import uuid

from django.db import models


class PgEnumField(models.CharField):
    """A column of a PostgreSQL ENUM type, validated in Python by ``choices``.

    The type itself is created by a ``RunSQL`` migration before the table that
    uses it. ``max_length`` only serves Python-side validation.
    """

    def __init__(self, *args, enum_type: str, **kwargs):
        self.enum_type = enum_type
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["enum_type"] = self.enum_type
        return name, path, args, kwargs

    def db_type(self, connection) -> str:
        return self.enum_type

    def cast_db_type(self, connection) -> str:
        return self.enum_type

    def rel_db_type(self, connection) -> str:
        return self.enum_type


class FixedCharField(models.CharField):
    """``CHAR(n)``: a fixed-width column, as the plan uses for SHA-256 hex digests."""

    def db_type(self, connection) -> str:
        return f"char({self.max_length})"

    def cast_db_type(self, connection) -> str:
        return f"char({self.max_length})"


class DbNow(models.Func):
    """``now()``, the transaction timestamp, as the plan's column defaults use.

    Django's ``Now()`` renders ``STATEMENT_TIMESTAMP()``, a different default.
    """

    template = "now()"
    output_field = models.DateTimeField()


def uuid_primary_key() -> models.UUIDField:
    """A UUID primary key known before the INSERT (paths are built from it), with the
    plan's ``DEFAULT gen_random_uuid()`` for rows written by plain SQL."""
    from django.contrib.postgres.functions import RandomUUID

    return models.UUIDField(
        primary_key=True, default=uuid.uuid4, db_default=RandomUUID(), editable=False
    )


def created_at_field(**kwargs) -> models.DateTimeField:
    """The plan's ``TIMESTAMPTZ DEFAULT now()``; the database's clock is authoritative."""
    return models.DateTimeField(null=True, db_default=DbNow(), editable=False, **kwargs)


def metadata_field() -> models.JSONField:
    """The plan's ``JSONB DEFAULT '{}'``, the same default in Python and in SQL."""
    return models.JSONField(
        null=True, blank=True, default=dict, db_default=models.Value({}, models.JSONField())
    )
