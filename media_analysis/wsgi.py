"""The web's entry point: gunicorn (``media_analysis.wsgi``) and runserver load it."""

import os

from django.core.wsgi import get_wsgi_application

from media_analysis.db_backend import disable_connect_retries

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "media_analysis.settings")

# The web fails fast: a request never sleeps on a database connection retry
# (DB_CONNECT_RETRIES is for workers, beat and management commands). With
# PostgreSQL down the request answers 503 and the circuit breaker opens; see
# docs/database-pool.md.
disable_connect_retries()

application = get_wsgi_application()
