"""Signals other apps listen to (storage_app imports none of them)."""

from django.dispatch import Signal

# Sent after ``manage.py restore`` replaced the database and the files: whatever
# other apps cached about the old ones is stale (analysis forgets its cache).
database_restored = Signal()
