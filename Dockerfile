# Production image: gunicorn serving the app, WhiteNoise serving its own static files.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# pg_dump and pg_restore for `manage.py backup` / `restore`. Bookworm's client is
# PostgreSQL 15, the major version docker-compose.yml runs: pg_dump must be of the
# server's major version or newer, so raise both together.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to import; the key is a build-time throwaway.
RUN SECRET_KEY=collectstatic-only DEBUG=false python manage.py collectstatic --no-input

# var/backups is where `manage.py backup` writes by default; the compose file
# mounts a volume there, which takes this directory's owner when first created.
RUN useradd --system --home /app claims \
    && mkdir -p /app/var/backups \
    && chown -R claims /app
USER claims

EXPOSE 8000
# A grade change that reaches a large share of a big archive recomputes its
# claims within the request: tens of seconds at a million claims, past
# gunicorn's default 30 s worker timeout. A worker is replaced after about 2,000
# requests, which also hands back the memory such a change leaves behind.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300", "--max-requests", "2000", "--max-requests-jitter", "200", "--access-logfile", "-"]
