"""Demo and training hooks registered with ecommerce.plugins."""

from __future__ import annotations

from typing import Any, TextIO


def train_for_demo() -> dict[str, Any]:
    """`manage.py train_models` / `make demo`: the same pipeline the nightly task runs."""
    from .services import recommenders_train

    return recommenders_train()


def demo_step(*, seed: int, stdout: TextIO) -> None:
    """After the core demo data: default business rules, then train and precompute."""
    from .models import BusinessRules
    from .services import recommenders_train

    BusinessRules.objects.get_or_create(
        name="Default rules", defaults={"exclude_out_of_stock": True, "max_per_category": 4}
    )
    summary = recommenders_train()
    stdout.write(
        f"recommendations: {summary.get('status')} "
        f"(versions {summary.get('versions', {})}, {summary.get('user_rows', 0)} user rows, "
        f"{summary.get('similar_rows', 0)} similar rows, {summary.get('seconds')} s)\n"
    )
