"""python manage.py create_staff --username U --password P --role ROLE: a staff account in one role."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecommerce.errors import DomainError
from ecommerce.roles import ROLES
from ecommerce.services.staff import staff_user_create


class Command(BaseCommand):
    help = (
        "Create a staff account (admin login) in one role group. is_staff alone grants nothing: "
        "the role decides what the account may see and do. Roles: "
        + "; ".join(f"{r.key} ({r.group})" for r in ROLES.values())
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, choices=sorted(ROLES))
        parser.add_argument("--email", default="")

    def handle(self, *args, **options) -> None:
        try:
            user = staff_user_create(
                username=options["username"], password=options["password"], role=options["role"], email=options["email"]
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        role = ROLES[options["role"]]
        self.stdout.write(f"Staff user {user.username!r} created in {role.group!r}: {role.summary}")
