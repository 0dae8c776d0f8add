"""python manage.py ship_ad_spool"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from advertising.buffer import BufferUnavailable, adopt_spool_orphans
from advertising.spool import spool_dir


class Command(BaseCommand):
    help = (
        "Ship the ad impressions that web processes on this machine spooled and did not hand to "
        "Redis before they died (ADS_SPOOL_DIR). The flush task does this too, on the machine it "
        "runs on; run this on a web machine before retiring it. Files of living processes are left alone."
    )

    def handle(self, *args, **options) -> None:
        try:
            shipped = adopt_spool_orphans()
        except BufferUnavailable as exc:
            raise CommandError(f"The impression buffer (Redis) is not available: {exc}. Nothing was shipped.") from exc
        self.stdout.write(f"Shipped {shipped} spooled impression(s) from {spool_dir()} to the buffer.")
