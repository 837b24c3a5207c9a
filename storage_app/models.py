"""The index of what is on disk: the plan's ``media_files`` and ``contact_sheets``.

This app never imports ``analysis``: requests are referred to by the string
``"analysis.AnalysisRequest"``.
"""

from __future__ import annotations

from django.db import models

from media_analysis.db_fields import created_at_field, metadata_field, uuid_primary_key


class MediaFile(models.Model):
    id = uuid_primary_key()
    # ON DELETE SET NULL is enforced by a constraint created in the migration.
    request = models.ForeignKey(
        "analysis.AnalysisRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,
        related_name="files",
    )
    filename = models.CharField(max_length=255)
    original_path = models.TextField(null=True, blank=True)
    storage_path = models.TextField(help_text="Absolute path when the file was written.")
    relative_path = models.TextField(
        null=True,
        blank=True,
        help_text="Relative to the storage root, so a moved root still works.",
    )
    size_bytes = models.BigIntegerField(null=True, blank=True)
    mime_type = models.CharField(max_length=100, null=True, blank=True)
    checksum = models.CharField(max_length=64, null=True, blank=True, help_text="SHA-256, hex.")
    retention_days = models.IntegerField(null=True, default=30, db_default=30)
    uploaded_at = created_at_field()
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "media_files"
        ordering = ["-uploaded_at"]
        indexes = [
            models.Index(fields=["request"], name="idx_files_request"),
            models.Index(fields=["-uploaded_at"], name="idx_files_uploaded"),
            models.Index(
                fields=["expires_at"],
                name="idx_files_expires",
                condition=models.Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.relative_path or self.storage_path


class ContactSheet(models.Model):
    id = uuid_primary_key()
    # ON DELETE CASCADE is enforced by a constraint created in the migration.
    request = models.ForeignKey(
        "analysis.AnalysisRequest",
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="contact_sheets",
    )
    storage_path = models.TextField()
    relative_path = models.TextField(null=True, blank=True)
    frames_count = models.IntegerField()
    grid_layout = models.CharField(max_length=20, null=True, default="2x3", db_default="2x3")
    resolution = models.CharField(
        max_length=20, null=True, default="1920x1080", db_default="1920x1080"
    )
    file_size_bytes = models.BigIntegerField(null=True, blank=True)
    checksum = models.CharField(max_length=64, null=True, blank=True)
    metadata = metadata_field()
    created_at = created_at_field()

    class Meta:
        db_table = "contact_sheets"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["request"], name="idx_contact_request")]

    def __str__(self) -> str:
        return self.relative_path or self.storage_path


# The backup_runs table lives with the backup code; imported here so Django sees it.
from storage_app.backup.record import BackupRun  # noqa: E402, F401
