"""Django settings for media-analysis (``DJANGO_SETTINGS_MODULE=media_analysis.settings``).

Everything comes from the environment through the typed helpers in ``env.py``;
each variable is documented in ``.env.example``. The settings are grouped by
concern in three modules, each building on the one before:

- ``core``: the project, database, cache, security, static files, metrics, health, logging;
- ``work``: Celery queues, routes and beat, storage and retention, recovery, backups;
- ``api``: the API, URL ingest, model providers, audit, the staff console.
"""

from media_analysis.settings.api import *  # noqa: F403
from media_analysis.settings.core import *  # noqa: F403
from media_analysis.settings.work import *  # noqa: F403
