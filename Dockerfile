# media-analysis: web (gunicorn), Celery worker and beat share this image.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MEDIA_ANALYSIS_STORAGE_ROOT=/opt/services/media-analysis/storage \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Wheels bundle what they need (psycopg's libpq, PyAV's FFmpeg): no build tools.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# collectstatic imports settings, which insist on real values; these exist only
# for this build step and never reach a running container.
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-build-only \
    python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p "$MEDIA_ANALYSIS_STORAGE_ROOT" \
    && chown -R app:app "$MEDIA_ANALYSIS_STORAGE_ROOT" \
    && chmod 755 "$MEDIA_ANALYSIS_STORAGE_ROOT"
USER app

EXPOSE 8000
VOLUME ["/opt/services/media-analysis/storage"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"]
