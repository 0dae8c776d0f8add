"""Start rasa_sdk's action server with Django set up and the shop's actions registered."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the Rasa action server (POST /webhook, GET /health, GET /actions) for the shop's support actions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=5055)
        parser.add_argument("--host", default=settings.SUPPORT_ACTION_SERVER_HOST)
        parser.add_argument("--cors", default="", help="Allowed CORS origins (default: none).")

    def handle(self, *args, **options) -> None:
        from rasa_sdk.endpoint import create_app

        from support.rasa_actions import build_executor

        executor = build_executor()
        # rasa_sdk's own runner spawns sanic worker processes that re-import the actions without
        # Django set up; serve rasa_sdk's app (same /webhook, /health, /actions) in this process
        # instead. The actions run the synchronous ORM code in a thread (asgiref).
        app = create_app(executor, cors_origins=options["cors"] or None)
        self.stdout.write(
            f"Rasa action server on {options['host']}:{options['port']} with: " + ", ".join(sorted(executor.actions))
        )
        app.run(host=options["host"], port=options["port"], single_process=True, access_log=False, motd=False)
