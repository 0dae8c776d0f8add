"""Names shared by the rollup writer (rollups.py) and the queries that read it."""

# ActorSketch rows with metric "<group>@month" (day = the 1st) hold a calendar month's exact
# distinct actors of that group and the union of its day sketches.
MONTH_SUFFIX = "@month"
