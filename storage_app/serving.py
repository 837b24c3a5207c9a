"""A stored file as an HTTP response, for the views that hand media to its owner
(the contact sheet and frames endpoints, the admin's sheet preview).

On the filesystem the service streams the file, as it always has. On S3 it answers
``302`` to a presigned URL valid for ``AWS_QUERYSTRING_EXPIRE`` seconds, so the
bytes go from the store to the caller directly; with ``MEDIA_ANALYSIS_S3_SERVE=stream``
(a store callers cannot reach) it streams the object through itself. Who may see
the file is the caller's business: check ownership before calling.
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, HttpResponseRedirect

from storage_app import objects


def serve_record(
    relative_path: str | None,
    storage_path: str | None,
    *,
    content_type: str,
    filename: str | None = None,
) -> HttpResponse:
    """The row's bytes (or a redirect to them). ``FileNotFoundError`` when they are
    no longer stored, ``UnsafePathError`` for a row outside the layout: the caller
    turns both into its 404."""
    url = objects.presigned_url(relative_path, storage_path)
    if url is not None:
        # A HEAD first: a gone object is our 404 with its JSON body, not the store's.
        if not objects.record_exists(relative_path, storage_path):
            raise FileNotFoundError(f"{relative_path} is not stored")
        response = HttpResponseRedirect(url)
        # The URL expires: no cache may keep the redirect longer than that.
        response["Cache-Control"] = "private, no-store"
        return response
    handle = objects.open_record(relative_path, storage_path)
    kwargs = {"filename": filename} if filename else {}
    return FileResponse(handle, content_type=content_type, **kwargs)
