"""Settings of the bare reference app: the least a production Django app has."""

SECRET_KEY = "bare-reference-app-serves-a-constant-and-has-nothing-to-sign"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "bare_reference.urls"
DATABASES: dict = {}
USE_TZ = True
