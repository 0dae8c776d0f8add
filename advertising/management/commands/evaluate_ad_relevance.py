"""Measure how relevant the served sponsored products are (issue 14's goal) on this database.

    python manage.py evaluate_ad_relevance [--limit N] [--query "lunch bag" ...] [--pacing] [--json OUT]

Serves every product page and every search query once through the real ad server (rolled back:
nothing is logged or charged) and reports the share of served sponsored products that are
relevant (goal >= 80%) and the share of product pages that show one (goal >= 30%).
Queries default to the shoppers' logged searches, else the catalogue's common title phrases.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from advertising.relevance_evaluation import ad_relevance_evaluate
from ecommerce.models import Product


class Command(BaseCommand):
    help = "Serve ads on every product page and search; report the relevant share and product-page coverage."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Only the first N product pages (by id).")
        parser.add_argument("--query", action="append", dest="queries", help="A search query (repeatable).")
        parser.add_argument("--pacing", action="store_true", help="Keep budget pacing on (time-of-day dependent).")
        parser.add_argument("--json", dest="json_out", help="Write the figures as JSON here.")

    def handle(self, *args, **options) -> None:
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        product_ids = None
        if limit is not None:
            product_ids = list(Product.objects.sellable().order_by("pk").values_list("pk", flat=True)[:limit])
        started = time.perf_counter()
        result = ad_relevance_evaluate(product_ids=product_ids, queries=options["queries"], pacing=options["pacing"])
        result["seconds"] = round(time.perf_counter() - started, 1)
        out = self.stdout
        out.write(
            f"Product pages: {result['product_pages']:,}, with a sponsored product: "
            f"{result['product_pages_with_ad']:,} ({result['product_page_coverage']:.1%}; goal >= 30%)"
        )
        out.write(f"Searches: {result['searches']:,}, with a sponsored product: {result['searches_with_ad']:,}")
        out.write(
            f"Served sponsored products: {result['served']:,}, relevant: {result['relevant']:,} "
            f"({result['relevant_share']:.1%}; goal >= 80%) — product pages {result['product_relevant']}/"
            f"{result['product_served']}, searches {result['search_relevant']}/{result['search_served']}"
        )
        for example in result["search_examples"]:
            mark = "relevant" if example["relevant"] else "NOT relevant"
            out.write(f"  search {example['query']!r}: {example['ad']} ({mark})")
        out.write(("Goals met" if result["goals"]["met"] else "Goals NOT met") + f" in {result['seconds']}s.")
        if options["json_out"]:
            Path(options["json_out"]).write_text(json.dumps(result, indent=2, default=str))
