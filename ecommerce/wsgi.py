import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

from ecommerce.handlers import get_serving_wsgi_application  # noqa: E402

# Django's WSGIHandler with each path's URL resolution remembered (ecommerce/handlers.py).
application = get_serving_wsgi_application()

# The loaded project's long-lived objects (modules, URLconf, models, templates' code) out of the
# cyclic collector's view, as Python's docs advise for servers (gc.freeze). Without it every full
# collection walks ~290k objects: a ~150 ms pause every ~15 s in a serving worker, the ad API's
# p99 (docs/benchmarks/storefront.md, "Serving APIs, round 2"). With it a full collection walks
# what requests left behind (~20 ms). Objects created later are collected as usual.
gc.collect()
gc.freeze()
