# media-analysis: web (gunicorn), Celery worker and beat share this image.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MEDIA_ANALYSIS_STORAGE_ROOT=/opt/services/media-analysis/storage \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# PostgreSQL client tools for `manage.py backup` / `restore` (pg_dump, pg_restore,
# psql), from the PostgreSQL project's apt repository: Debian's own is 15 only. A
# pg_dump older than the server refuses to dump it, and the backup says which
# version it needs; a newer one works. Build with the server's major version:
#   docker build --build-arg PG_CLIENT_MAJOR=16 .
# (docs/backup.md: "The PostgreSQL client in the image").
ARG PG_CLIENT_MAJOR=17
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && . /etc/os-release \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && apt-get purge -y --auto-remove curl \
    && rm -rf /var/lib/apt/lists/* \
    && pg_dump --version | grep -q "PostgreSQL) ${PG_CLIENT_MAJOR}\."

# Wheels bundle what they need (psycopg's libpq, PyAV's FFmpeg): no build tools.
# rapidocr (OCR) declares opencv-python, whose cv2 links libGL, absent here: swap it
# for the headless build pinned in requirements.txt (the same cv2 without the GUI).
COPY requirements.txt ./
RUN pip install -r requirements.txt \
    && pip uninstall -y opencv-python \
    && pip install --no-deps --force-reinstall "$(grep '^opencv-python-headless==' requirements.txt)"

COPY . .

# collectstatic imports settings, which insist on real values; these exist only
# for this build step and never reach a running container.
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-build-only \
    python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p "$MEDIA_ANALYSIS_STORAGE_ROOT" /opt/services/media-analysis/backups \
    && chown -R app:app "$MEDIA_ANALYSIS_STORAGE_ROOT" /opt/services/media-analysis/backups \
    && chmod 755 "$MEDIA_ANALYSIS_STORAGE_ROOT" \
    && chmod 750 /opt/services/media-analysis/backups
USER app

EXPOSE 8000
VOLUME ["/opt/services/media-analysis/storage", "/opt/services/media-analysis/backups"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "media_analysis.wsgi"]
