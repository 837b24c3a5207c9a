"""What one cleanup run did, per category: the report the task returns, the
command prints and the log records (filled by ``cleanup`` and ``sweep``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass
class CategoryCounts:
    files_deleted: int = 0
    bytes_freed: int = 0
    rows_marked: int = 0
    # An expired row whose file was already gone: the row is marked all the same.
    files_missing: int = 0
    # Files in folders past retention that no live row knows (logged one by one).
    orphans_deleted: int = 0
    partials_deleted: int = 0  # ".tmp-*" left by a crashed write
    folders_removed: int = 0
    errors: int = 0


@dataclass
class CleanupReport:
    dry_run: bool
    actor: str
    now: datetime
    categories: dict[str, CategoryCounts] = field(default_factory=dict)
    disk_used_percent: float | None = None

    def counts(self, category: str) -> CategoryCounts:
        return self.categories.setdefault(category, CategoryCounts())

    @property
    def total(self) -> CategoryCounts:
        total = CategoryCounts()
        for counts in self.categories.values():
            for name, value in asdict(counts).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "actor": self.actor,
            "now": self.now.isoformat(),
            "categories": {name: asdict(c) for name, c in sorted(self.categories.items())},
            "total": asdict(self.total),
            "disk_used_percent": self.disk_used_percent,
        }
