"""Batches: up to 100 analyses submitted together (``POST /api/media/analyze/batch``).

``models`` holds the batch row, ``service`` validates every item before creating
any and settles the batch once its last item ends, ``api`` is the two endpoints.
"""
