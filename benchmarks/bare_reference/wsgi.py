"""gunicorn's entry point for the bare reference app."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bare_reference.settings"

application = get_wsgi_application()
