import gc
import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def warm() -> None:
    """What every worker makes on its first pages, made before it serves any:
    the URL patterns (and so every view module) and the project's templates,
    compiled into the cached loader. The first page of each kind no longer
    pays for them, and they are frozen below with the rest of the app."""
    from django.template import engines
    from django.urls import get_resolver

    get_resolver().reverse_dict  # noqa: B018 - reading it fills it
    engine = engines["django"]
    for root in map(Path, engine.dirs):
        for path in sorted(root.rglob("*.html")):
            engine.get_template(path.relative_to(root).as_posix())


warm()

# What loading the app made lives as long as the worker: frozen out of the
# collector's generations, it is no longer walked by every full collection,
# so those run often and cheaply, and the cyclic garbage that requests leave
# (querysets, forms, prefetched rows) is freed within a few requests instead
# of piling up between rare full collections. A worker's memory then stays
# flat under load (docs/performance.md, session 11).
gc.collect()
gc.freeze()
