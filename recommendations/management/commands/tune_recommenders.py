"""Reproduce the recommenders' hyper-parameter choices: a grid search on a validation split cut
from the training period only.

    python manage.py tune_recommenders --csv ../shared/data/uci-online-retail/online_retail.csv.gz
    python manage.py tune_recommenders --cutoff-quantile 0.8 --validation-quantile 0.8 --k 10 \\
        [--protocol repeat] [--families hybrid,ease] [--quick] [--json out.json]

The purchases are cut at --cutoff-quantile exactly as `evaluate_recommenders` cuts them; everything
on and after that cut (the test period) is dropped before the search. The training period is cut
again at --validation-quantile: fit before, validate after. Prints every candidate's validation
NDCG@k and, per family, the chosen parameters. Nothing is written to the database.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.evaluation import temporal_split
from recommendations.tuning import VALIDATION_QUANTILE, families, search, validation_split

from ._purchases import purchases_for


class Command(BaseCommand):
    help = "Grid-search recommender hyper-parameters on a validation split inside the training period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cutoff-quantile",
            type=float,
            default=0.8,
            dest="quantile",
            help="the test cut of evaluate_recommenders; nothing after it is read",
        )
        parser.add_argument(
            "--validation-quantile",
            type=float,
            default=VALIDATION_QUANTILE,
            help="where the training period is cut into fit / validation",
        )
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--protocol", choices=["new", "repeat"], default="new")
        parser.add_argument("--families", default="", help="comma-separated subset (default: all)")
        parser.add_argument("--quick", action="store_true", help="two values per axis instead of the full grid")
        parser.add_argument("--csv", dest="csv_path", default="", help="raw UCI Online Retail CSV (.csv or .csv.gz)")
        parser.add_argument("--json", dest="json_path", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        k = options["k"]
        for name in ("quantile", "validation_quantile"):
            if not 0.0 < options[name] < 1.0:
                raise CommandError(f"--{name.replace('_', '-')} must be strictly between 0 and 1.")
        if not 1 <= k <= 100:
            raise CommandError("--k must be between 1 and 100.")
        candidates = families(options["protocol"], quick=options["quick"])
        if options["families"]:
            wanted = {f.strip() for f in options["families"].split(",") if f.strip()}
            unknown = wanted - {f.name for f in candidates}
            if unknown:
                known = ", ".join(f.name for f in candidates)
                raise CommandError(f"Unknown families {sorted(unknown)}; known: {known}.")
            candidates = [f for f in candidates if f.name in wanted]

        purchases, text, categories = purchases_for(options["csv_path"])
        try:
            outer = temporal_split(
                purchases, options["quantile"], protocol=options["protocol"], item_text=text, item_category=categories
            )
            outer.context.num_threads = settings.RECOMMENDATIONS_THREADS
            split = validation_split(outer, options["validation_quantile"], item_text=text, item_category=categories)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if len(split.eval_rows) == 0:
            raise CommandError("No user has both history and later purchases inside the training period.")
        self.stdout.write(
            f"test cut {outer.cutoff} (Q={options['quantile']}): only the {len(outer.train_purchases)} purchase lines "
            f"before it are read. Validation cut {split.cutoff} (Q={options['validation_quantile']} of those): "
            f"{len(split.users)} users x {len(split.items)} items to fit, {len(split.eval_rows)} users validated."
        )

        started = time.perf_counter()

        def progress(family: str, params: dict[str, Any], score: float) -> None:
            self.stdout.write(f"  {family} {json.dumps(params)}: ndcg@{k}={score:.4f}")

        results = search(split, k, candidates, progress=progress)
        self.stdout.write(f"\nChosen on validation (ndcg@{k}), {time.perf_counter() - started:.0f} s:")
        for result in results:
            self.stdout.write(
                f"  {result.name}: {json.dumps(result.best_params)}  validation ndcg@{k}={result.best_score:.4f}"
            )
        if options["json_path"]:
            report = {
                "test_cutoff": str(outer.cutoff),
                "validation_cutoff": str(split.cutoff),
                "cutoff_quantile": options["quantile"],
                "validation_quantile": options["validation_quantile"],
                "protocol": options["protocol"],
                "k": k,
                "users_validated": int(len(split.eval_rows)),
                "source": options["csv_path"] or "database",
                "families": {
                    r.name: {
                        "best_params": r.best_params,
                        "best_score": r.best_score,
                        "tried": [{"params": p, "score": s} for p, s in r.tried],
                    }
                    for r in results
                },
            }
            Path(options["json_path"]).parent.mkdir(parents=True, exist_ok=True)
            Path(options["json_path"]).write_text(json.dumps(report, indent=2))
            self.stdout.write(f"wrote {options['json_path']}")
