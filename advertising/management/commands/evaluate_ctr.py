"""Evaluate the click model on any click log CSV: earlier part trains, later part tests.

    python manage.py evaluate_ctr --csv PATH --label is_attributed --time-column click_time \
        --features ip,app,device,os,channel [--test-fraction 0.2] --json OUT

Same model code as serving (advertising.ctr). C is tuned on a validation slice cut from the
END of the training part only; the test part is scored once. The plain hashed logistic
regression (no crosses, no counts, no calibration) is reported alongside as the baseline.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from advertising.ctr.model import evaluate_time_split


class Command(BaseCommand):
    help = "Train the CTR model on the earlier part of a CSV click log and score the later part."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--csv", required=True, help="Path to a CSV (.csv or .csv.gz).")
        parser.add_argument("--label", required=True, help="0/1 click (or conversion) column.")
        parser.add_argument("--time-column", required=True, help="Column to order rows by time.")
        parser.add_argument("--features", required=True, help="Comma-separated categorical feature columns.")
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--json", dest="json_out", help="Write the metrics as JSON here.")
        parser.add_argument("--no-tune", action="store_true", help="Skip tuning C on the validation slice.")
        parser.add_argument("--c-grid", default="0.3,1,3", help="Values of C tried on the validation slice.")
        parser.add_argument("--n-features", type=int, default=2**20, help="Hashing space (default 2**20).")

    @staticmethod
    def _time_order(column):
        """Numbers sort as numbers (epoch seconds), anything else as dates; text as a last resort."""
        import pandas as pd

        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all():
            return numeric
        parsed = pd.to_datetime(column, errors="coerce")
        if parsed.notna().all():
            return parsed
        return column

    def handle(self, *args, **options) -> None:
        import pandas as pd

        path = Path(options["csv"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        features = [f.strip() for f in options["features"].split(",") if f.strip()]
        if not features:
            raise CommandError("--features needs at least one column.")
        if not 0 < options["test_fraction"] < 1:
            raise CommandError("--test-fraction must be between 0 and 1.")
        try:
            c_grid = tuple(float(c) for c in options["c_grid"].split(","))
        except ValueError as exc:
            raise CommandError("--c-grid must be comma-separated numbers.") from exc
        if not 2**8 <= options["n_features"] <= 2**24:
            raise CommandError("--n-features must be between 2**8 and 2**24.")
        columns = [*features, options["label"], options["time_column"]]
        try:
            frame = pd.read_csv(path, usecols=columns, dtype=str)
        except ValueError as exc:
            raise CommandError(f"Cannot read columns {columns}: {exc}") from exc
        frame = frame.assign(_order=self._time_order(frame[options["time_column"]]))
        frame = frame.sort_values("_order", kind="mergesort")  # stable: ties keep file order
        try:
            labels = frame[options["label"]].astype(float).astype(int).tolist()
        except ValueError as exc:
            raise CommandError(f"Label column {options['label']!r} must be 0/1.") from exc
        rows = frame[features].fillna("").to_dict("records")
        try:
            result = evaluate_time_split(
                rows,
                labels,
                features=features,
                test_fraction=options["test_fraction"],
                tune=not options["no_tune"],
                c_grid=c_grid,
                n_features=options["n_features"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        result["csv"] = str(path)
        text = json.dumps(result, indent=2, default=str)
        if options["json_out"]:
            Path(options["json_out"]).write_text(text)
        summary = {k: result[k] for k in ("n_train", "n_test", "auc", "logloss", "calibration", "fit_seconds")}
        self.stdout.write(json.dumps(summary))
