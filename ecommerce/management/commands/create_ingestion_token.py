"""python manage.py create_ingestion_token NAME: a Bearer token for server-side event ingestion."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecommerce.api.authentication import ingestion_token_create
from ecommerce.models import IngestionToken


class Command(BaseCommand):
    help = (
        "Create an ingestion token for POST /api/events/ (Authorization: Bearer <token>), which may "
        "set user_id per event. The token is printed once; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the token, e.g. 'warehouse-sync'. Must be unique.")

    def handle(self, *args, **options) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("Give a name of 1 to 100 characters.")
        if IngestionToken.objects.filter(name=name).exists():
            raise CommandError(f"A token named {name!r} exists already; revoke it in the admin or pick another name.")
        raw = ingestion_token_create(name=name)
        self.stderr.write(f"Ingestion token {name!r} created. It is shown once; store it now:")
        self.stdout.write(raw)
