"""Objects in the test bucket (SeaweedFS) with the index rows the product would
write for them: ``relative_path`` = the key, ``storage_path`` = the store's URI."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from storage_app.backends import StorageBackend
from storage_app.layout import Category, object_key, retention_for
from storage_app.models import ContactSheet, MediaFile

NAMES = {
    Category.UPLOADS: "original.mp4",
    Category.FRAMES: "frame_001.jpg",
    Category.CONTACT_SHEETS: "contact_sheet.jpg",
    Category.OUTPUTS: "result.json",
}


def put_object(
    store: StorageBackend, category: Category, request, days_ago: int, content: bytes, name=None
) -> str:
    """An object as a worker would have stored it ``days_ago`` days ago (its key's
    date; the object itself is written now). Returns the key."""
    written = timezone.now() - timedelta(days=days_ago)
    key = object_key(category, request.id, name or NAMES[category], on_date=written)
    store.save_stream(key, content)
    return key


def put_indexed(
    store: StorageBackend,
    category: Category,
    request,
    days_ago: int,
    content: bytes = b"data",
    name=None,
):
    """An object and its row (a contact sheet's row for contact-sheets), aged as if
    written ``days_ago`` days ago. Returns (key, row)."""
    import hashlib

    key = put_object(store, category, request, days_ago, content, name)
    written = timezone.now() - timedelta(days=days_ago)
    common = {"storage_path": store.uri_for(key), "relative_path": key}
    checksum = hashlib.sha256(content).hexdigest()
    if category is Category.CONTACT_SHEETS:
        sheet = ContactSheet.objects.create(
            request=request,
            frames_count=6,
            file_size_bytes=len(content),
            checksum=checksum,
            metadata={},
            **common,
        )
        ContactSheet.objects.filter(pk=sheet.pk).update(created_at=written)
        return key, sheet
    retention = retention_for(category)
    row = MediaFile.objects.create(
        request=request,
        filename=key.rsplit("/", 1)[1],
        size_bytes=len(content),
        checksum=checksum,
        expires_at=written + retention if retention else None,
        **common,
    )
    MediaFile.objects.filter(pk=row.pk).update(uploaded_at=written)
    return key, row
