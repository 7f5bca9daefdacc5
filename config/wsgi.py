import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What loading the app made lives as long as the worker: frozen out of the
# collector's generations, it is no longer walked by every full collection,
# so those run often and cheaply, and the cyclic garbage that requests leave
# (querysets, forms, prefetched rows) is freed within a few requests instead
# of piling up between rare full collections. A worker's memory then stays
# flat under load (docs/performance.md, session 11).
gc.collect()
gc.freeze()
