"""Evaluate the serving intent model (or a fresh baseline) on a CSV with `text,intent` columns."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from support.engine import intent_model, intent_model_version
from support.nlu.data import BITEXT_TRAIN, read_labelled_csv
from support.nlu.intents import evaluate, train_baseline


class Command(BaseCommand):
    help = "Per-intent report of the active intent model on --test-file; --json writes the full result."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--test-file", required=True, help="CSV (or .csv.gz) with columns text,intent.")
        parser.add_argument("--json", dest="json_out", default="", help="Write the result as JSON here.")
        parser.add_argument(
            "--baseline",
            action="store_true",
            help="Evaluate a default TF-IDF + logistic regression trained on Bitext alone instead.",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["test_file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            rows = read_labelled_csv(path)
        except (KeyError, UnicodeDecodeError, OSError) as error:
            raise CommandError(f"Could not read {path} as a text,intent CSV: {error}") from error
        if not rows:
            raise CommandError(f"{path} has no rows with both text and intent.")
        if options["baseline"]:
            training = read_labelled_csv(BITEXT_TRAIN)
            model, label = (
                train_baseline([t for t, _ in training], [i for _, i in training]),
                "baseline (Bitext TF-IDF+LR)",
            )
        else:
            model = intent_model()
            # Name what actually serves: the registry version and its features in this process
            # ("support.intents v3 (use+tfidf)"), or the keyword fallback.
            features = getattr(model, "features", "")
            label = f"support.intents {intent_model_version()}" + (f" ({features})" if features else "")
        result = evaluate(model, rows)
        result["model"] = label
        result["test_file"] = str(path)
        self.stdout.write(f"Model {label} on {path} ({result['n']} messages)")
        self.stdout.write(f"{'intent':28} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
        for intent, row in sorted(result["per_intent"].items()):
            self.stdout.write(
                f"{intent:28} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} {row['support']:8d}"
            )
        self.stdout.write(f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}")
        if options["json_out"]:
            Path(options["json_out"]).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
            self.stdout.write(f"Wrote {options['json_out']}")
