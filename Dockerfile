# Production image: gunicorn serving the app, WhiteNoise serving its own static files.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to import; the key is a build-time throwaway.
RUN SECRET_KEY=collectstatic-only DEBUG=false python manage.py collectstatic --no-input

RUN useradd --system --home /app claims && chown -R claims /app
USER claims

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
