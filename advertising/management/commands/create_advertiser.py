"""python manage.py create_advertiser --name N --username U --email E --password P"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from advertising.services import advertiser_account_create
from ecommerce.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an advertiser login: a normal (non-staff) account that belongs to the named "
        "advertiser (created if it does not exist) and reaches only that advertiser's campaigns."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The advertiser, e.g. 'Acme Ads'.")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)

    def handle(self, *args, **options) -> None:
        try:
            advertiser, user = advertiser_account_create(
                name=options["name"], username=options["username"], email=options["email"], password=options["password"]
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Advertiser login {user.username!r} created for {advertiser.name!r} (not staff).")
