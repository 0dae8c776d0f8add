import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
application = get_wsgi_application()

# The loaded project's long-lived objects (modules, URLconf, models, templates' code) out of the
# cyclic collector's view, as Python's docs advise for servers (gc.freeze). Without it every full
# collection walks ~290k objects: a ~150 ms pause every ~15 s in a serving worker, the ad API's
# p99 (docs/benchmarks/storefront.md, "Serving APIs, round 2"). With it a full collection walks
# what requests left behind (~20 ms). Objects created later are collected as usual.
gc.collect()
gc.freeze()
