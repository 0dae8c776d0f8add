"""Demo step and training job registered with ecommerce.plugins (see apps.py)."""

from __future__ import annotations

from typing import Any


def demo_analytics(*, seed: int, stdout) -> None:
    """After the core demo data (UCI slice + generated sessions): roll everything up and build
    the RFM and behaviour segments, so the dashboard and segment consumers have data at once."""
    from .rollups import rollups_refresh_pending
    from .segmentation import segments_refresh

    rolled = rollups_refresh_pending()
    stdout.write(f"analytics: rolled up {rolled['days']} days ({rolled['daily']} daily rows)\n")
    result = segments_refresh()
    stdout.write(f"analytics: {len(result['rfm'])} RFM segments, {result['clusters'].get('clusters', 0)} clusters\n")


def train_segments() -> dict[str, Any]:
    """Training job: recompute RFM and KMeans segments (deterministic, random_state=0)."""
    from .segmentation import segments_refresh

    return segments_refresh()
