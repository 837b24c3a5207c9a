"""Entries for saves whose new values the database decides.

auditlog diffs an update in ``pre_save``. When a field is assigned an expression
(``request.completed_at = Now()``), its new value is not known yet and auditlog
would record the text ``"Now()"``. For such saves the entry is held back on the
instance and written in ``post_save`` (same transaction), with the values read
back from the row.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from auditlog.diff import get_field_value, is_primitive
from django.conf import settings
from django.db.models import Model
from django.utils.encoding import smart_str

PENDING_ATTRIBUTE = "_audit_pending_entry"


def defer_if_set_by_database(
    instance: Model, kwargs: dict[str, Any], write: Callable[[Model, dict[str, Any]], Any]
) -> bool:
    """Hold the entry back when any changed field holds an expression; ``write``
    writes it after the save (the entry manager's own, passed in so that this
    module needs no model)."""
    fields = [
        field
        for name in kwargs["changes"]
        if (field := _concrete_field(instance, name)) is not None
        and hasattr(instance.__dict__.get(field.attname), "resolve_expression")
    ]
    if not fields:
        return False
    instance.__dict__[PENDING_ATTRIBUTE] = (kwargs, fields, write)
    return True


def forget_pending_entry(sender, instance, **kwargs) -> None:
    """pre_save, connected before auditlog's receivers: an entry held back by a
    save that then failed must not be written by the next save."""
    instance.__dict__.pop(PENDING_ATTRIBUTE, None)


def write_pending_entry(sender, instance, using, **kwargs) -> None:
    """post_save: write the held-back entry with the values now in the row."""
    pending = instance.__dict__.pop(PENDING_ATTRIBUTE, None)
    if pending is None:
        return
    entry_kwargs, fields, write = pending
    row = (
        sender._base_manager.using(using)
        .filter(pk=instance.pk)
        .values(*(field.attname for field in fields))
        .first()
    )
    if row is None:
        return
    saved = copy.copy(instance)
    changes = dict(entry_kwargs["changes"])
    use_json = settings.AUDITLOG_STORE_JSON_CHANGES
    for field in fields:
        setattr(saved, field.attname, row[field.attname])
        value = get_field_value(saved, field, use_json)
        if not use_json or not is_primitive(value):
            value = smart_str(value)
        changes[field.name] = (changes[field.name][0], value)
    entry_kwargs["changes"] = changes
    write(instance, entry_kwargs)


def _concrete_field(instance: Model, name: str):
    try:
        field = instance._meta.get_field(name)
    except Exception:
        return None
    return field if getattr(field, "concrete", False) else None
