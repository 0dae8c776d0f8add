"""Start rasa_sdk's action server with Django set up and the shop's actions registered."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Rasa action server (POST /webhook, GET /health, GET /actions) for the shop's support actions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=5055)
        parser.add_argument("--cors", default="", help="Allowed CORS origins (default: none).")

    def handle(self, *args, **options) -> None:
        import os

        from rasa_sdk import endpoint

        from support.rasa_actions import build_executor

        # One worker process: Django is already set up in this one, and sanic workers would
        # re-import without it. The executor runs the actions in a thread (sync ORM).
        os.environ.setdefault("ACTION_SERVER_SANIC_WORKERS", "1")
        executor = build_executor()
        names = ", ".join(sorted(executor.actions))
        self.stdout.write(f"Rasa action server on port {options['port']} with: {names}")
        endpoint.run(executor, port=options["port"], cors_origins=options["cors"] or None)
