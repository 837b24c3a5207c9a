"""Schema operations Django 5.2 cannot express, as reversible ``RunSQL``.

Used by the migrations; keep these functions stable, migrations import them.
"""

from __future__ import annotations

from django.db import migrations


def create_enum_type(name: str, values: list[str]) -> migrations.RunSQL:
    labels = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return migrations.RunSQL(
        sql=f"CREATE TYPE {name} AS ENUM ({labels})",
        reverse_sql=f"DROP TYPE {name}",
    )


def add_foreign_key(
    table: str, column: str, target: str, on_delete: str, target_column: str = "id"
) -> migrations.RunSQL:
    """A foreign key whose ON DELETE rule the database enforces (CASCADE / SET NULL),
    named the way PostgreSQL names the plan's inline ``REFERENCES`` clauses."""
    if on_delete not in {"CASCADE", "SET NULL", "RESTRICT", "NO ACTION"}:
        raise ValueError(f"unsupported ON DELETE rule {on_delete!r}")
    constraint = f"{table}_{column}_fkey"
    return migrations.RunSQL(
        sql=(
            f"ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY ({column}) "
            f"REFERENCES {target}({target_column}) ON DELETE {on_delete}"
        ),
        reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT {constraint}",
    )
