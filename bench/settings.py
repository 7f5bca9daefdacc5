"""The application's settings plus the benchmark's baseline view (bench/urls.py),
so that the app code itself is measured untouched."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
