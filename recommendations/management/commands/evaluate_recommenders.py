"""Offline evaluation of the recommenders on the temporal purchase protocol (issue 3).

    python manage.py evaluate_recommenders --cutoff-quantile 0.8 --k 10 --json out.json
    python manage.py evaluate_recommenders --csv ../shared/data/uci-online-retail/online_retail.csv.gz ...

Without --csv the purchases come from the order tables; with --csv the raw UCI Online Retail file
is read with pandas and the same rules are applied (no database import needed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.algorithms import ALGORITHMS, BASELINES
from recommendations.evaluation import evaluate_all, format_table, temporal_split

from ._purchases import purchases_for

DEFAULT_ALGORITHMS = (*BASELINES, "ease", "hybrid")


class Command(BaseCommand):
    help = "Evaluate recommenders on a temporal purchase split (precision, recall, NDCG, MAP, hit rate, coverage)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cutoff-quantile", type=float, default=0.8, dest="quantile")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--json", dest="json_path", default="")
        parser.add_argument(
            "--algorithms",
            default=",".join(DEFAULT_ALGORITHMS),
            help=f"comma-separated, or 'all'. Known: {', '.join(ALGORITHMS)}",
        )
        parser.add_argument("--protocol", choices=["new", "repeat"], default="new")
        parser.add_argument("--csv", dest="csv_path", default="", help="raw UCI Online Retail CSV (.csv or .csv.gz)")

    def handle(self, *args: Any, **options: Any) -> None:
        quantile = options["quantile"]
        k = options["k"]
        if not 0.0 < quantile < 1.0:
            raise CommandError("--cutoff-quantile must be strictly between 0 and 1.")
        if not 1 <= k <= 100:
            raise CommandError("--k must be between 1 and 100.")
        names = (
            list(ALGORITHMS)
            if options["algorithms"] == "all"
            else [a.strip() for a in options["algorithms"].split(",") if a.strip()]
        )
        if options["protocol"] == "repeat" and options["algorithms"] == ",".join(DEFAULT_ALGORITHMS):
            # re-purchases count: also show the customer's own history and the blend with it
            names += ["repeat_purchase", "hybrid_repeat"]
        unknown = [n for n in names if n not in ALGORITHMS]
        if unknown or not names:
            raise CommandError(f"Unknown algorithms {unknown}; known: {', '.join(ALGORITHMS)}.")

        purchases, text, categories = purchases_for(options["csv_path"])
        try:
            split = temporal_split(
                purchases, quantile, protocol=options["protocol"], item_text=text, item_category=categories
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        if len(split.eval_rows) == 0:
            raise CommandError("No user has both training history and later purchases at this cut-off.")
        split.context.num_threads = settings.RECOMMENDATIONS_THREADS
        self.stdout.write(
            f"{len(purchases)} purchase lines; cut at {split.cutoff}; {len(split.users)} users x "
            f"{len(split.items)} items in training; {len(split.eval_rows)} users evaluated."
        )

        def progress(name: str, metrics: dict[str, float]) -> None:
            self.stdout.write(f"  {name}: ndcg@{k}={metrics[f'ndcg@{k}']:.4f} fit {metrics['fit_seconds']:.1f}s")

        report = evaluate_all({n: ALGORITHMS[n] for n in names}, split, k, progress=progress)
        report["cutoff_quantile"] = quantile
        report["source"] = str(options["csv_path"] or "database")
        baselines = [report["results"][n][f"ndcg@{k}"] for n in names if n in BASELINES]
        if baselines:
            best_baseline = max(baselines)
            report["best_baseline_ndcg"] = best_baseline
            ours = {n: m[f"ndcg@{k}"] for n, m in report["results"].items() if n not in BASELINES}
            if ours and best_baseline > 0:
                best_name = max(ours, key=ours.get)
                report["best_algorithm"] = best_name
                report["ratio_to_best_baseline"] = round(ours[best_name] / best_baseline, 4)
        self.stdout.write(format_table(report))
        if "ratio_to_best_baseline" in report:
            self.stdout.write(
                f"best: {report['best_algorithm']} = {report['ratio_to_best_baseline']:.3f} x best baseline"
            )
        if options["json_path"]:
            Path(options["json_path"]).parent.mkdir(parents=True, exist_ok=True)
            Path(options["json_path"]).write_text(json.dumps(report, indent=2))
            self.stdout.write(f"wrote {options['json_path']}")
