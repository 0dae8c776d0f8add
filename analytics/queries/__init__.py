"""Dashboard queries. Aggregation happens in the database (Trunc*, Count(distinct), Sum, NTILE);
Python only reshapes the aggregated rows. KPIs, trends and the heat-map read the rollup tables
(analytics/rollups.py) unless a filter needs raw rows (segment, category), see docs/analytics.md.

All ranges are dates, both ends inclusive, in the shop's time zone. One module per question;
this package re-exports the public names, so `from analytics import queries; queries.kpis(...)`
works as before.
"""

from __future__ import annotations

from .common import (
    BUSINESS_METRICS,
    DEFAULT_FUNNEL,
    EVENT_TYPES,
    INTERVALS,
    Filters,
    default_range,
    distinct_actors,
    gmv,
)
from .distributions import BROWSING_BUCKETS, DISTRIBUTION_FIELDS, browsing_distribution, distributions, heatmap
from .funnels import funnel
from .kpis import KPI_DEFINITIONS, KPI_LABELS, kpis
from .retention import cohort_counts, retention
from .rfm import RFM_SEGMENTS, rfm_scores, rfm_segment_for, rfm_summary
from .tops import TOP_DIMENSIONS, abandoned_carts, top
from .trends import trends

__all__ = [
    "BROWSING_BUCKETS",
    "BUSINESS_METRICS",
    "DEFAULT_FUNNEL",
    "DISTRIBUTION_FIELDS",
    "EVENT_TYPES",
    "INTERVALS",
    "KPI_DEFINITIONS",
    "KPI_LABELS",
    "RFM_SEGMENTS",
    "TOP_DIMENSIONS",
    "Filters",
    "abandoned_carts",
    "browsing_distribution",
    "cohort_counts",
    "default_range",
    "distinct_actors",
    "distributions",
    "funnel",
    "gmv",
    "heatmap",
    "kpis",
    "retention",
    "rfm_scores",
    "rfm_segment_for",
    "rfm_summary",
    "top",
    "trends",
]
