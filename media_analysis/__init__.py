"""The project package: settings, URLs, the Celery app, health, resilience.

The Celery app lives in ``media_analysis.celery``: ``celery -A media_analysis``
finds it there, and the web imports it where it publishes tasks
(``analysis.outbox``). It is not imported here, so that the package's pure
modules (``errors``, ``env``) can be used without Django or Celery, by media
processing for one.
"""
