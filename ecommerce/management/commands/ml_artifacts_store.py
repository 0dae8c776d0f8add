"""Store model artifacts that exist only as files under ML_ARTIFACT_ROOT in the database."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ecommerce.ml import artifacts_store_local_files


class Command(BaseCommand):
    help = (
        "Copy artifacts registered before they were kept in the database from ML_ARTIFACT_ROOT into "
        "the database (only files whose sha256 matches their registry row). Run on the host that has them."
    )

    def handle(self, *args, **options) -> None:
        counts = artifacts_store_local_files()
        self.stdout.write(
            f"stored {counts['stored']}, missing here {counts['missing']}, sha256 mismatch {counts['mismatch']}"
        )
