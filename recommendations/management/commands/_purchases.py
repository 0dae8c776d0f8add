"""Where the offline commands (evaluate_recommenders, tune_recommenders) read purchases from.

A leading underscore keeps Django from listing this module as a command.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.core.management.base import CommandError

from recommendations.evaluation import pseudo_categories, uci_purchases_from_csv


def purchases_for(csv_path: str) -> tuple[pd.DataFrame, dict[str, str], dict[str, int]]:
    """(purchases, item text, item categories) from the raw UCI CSV, or from the order tables."""
    if csv_path:
        path = Path(csv_path)
        if not path.is_file():
            raise CommandError(f"{path} does not exist.")
        purchases, text = uci_purchases_from_csv(path)
        return purchases, text, pseudo_categories(text)
    from recommendations.selectors import product_side_information, purchase_history_frame

    purchases = purchase_history_frame()
    if purchases.empty:
        raise CommandError("No purchases in the database: import data first or pass --csv.")
    text, categories = product_side_information(sorted(purchases["item"].unique()))
    return purchases, text, categories
