"""python manage.py seed_demo [--seed 42] [--max-customers N]: a realistic demo shop.

Loads the UCI Online Retail slice shipped in ecommerce/demo/data through the same importer as
`import_dataset`, gives the customers seeded profiles, generates browsing sessions around their
real purchases, creates the `admin` and `shopper` logins (passwords printed), then runs every
app's registered demo step (ecommerce.plugins.register_demo_step). Run `migrate` first.
Running it again adds nothing; it only resets and prints the two passwords.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ecommerce import plugins
from ecommerce.demo import generator


class Command(BaseCommand):
    help = "Load the demo shop: UCI slice, profiles, browsing sessions, admin/shopper logins, app demo data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Seed of every generated value (default 42).")
        parser.add_argument(
            "--max-customers",
            type=int,
            default=None,
            help="Load only the first N customers of the slice (quick tests).",
        )
        parser.add_argument(
            "--max-events",
            type=int,
            default=generator.DEFAULT_MAX_GENERATED_EVENTS,
            help="Cap on generated browsing events (default %(default)s).",
        )
        parser.add_argument(
            "--core-only", action="store_true", help="Skip the other apps' demo steps (only the shop's own data)."
        )
        parser.add_argument("--progress", action="store_true", help="Show the import progress bar.")

    def handle(self, *args, **options) -> None:
        seed: int = options["seed"]
        max_customers = options["max_customers"]
        if max_customers is not None and max_customers < 1:
            raise CommandError("--max-customers must be at least 1.")
        started = time.perf_counter()

        self.stdout.write("Importing the UCI Online Retail demo slice...")
        selection = generator.slice_selection(max_customers=max_customers)
        report = generator.demo_slice_import(selection=selection, progress=options["progress"])
        for line in report.lines():
            self.stdout.write("  " + line)
        shift = generator.demo_history_bring_forward()
        if shift:
            self.stdout.write(f"  moved the slice's history forward {shift.days:,} days so it ends yesterday.")

        customers = generator.demo_customers(selection=selection)
        generator.demo_profiles_assign(seed=seed, customers=customers)
        self.stdout.write(f"Profiles (birth year, gender, interests) for {len(customers):,} customers.")

        accounts = generator.demo_accounts_create()
        orders = generator.demo_shopper_orders_create(seed=seed, shopper=accounts.shopper)
        self.stdout.write(
            f"Demo shopper has {len(orders)} demo orders ({', '.join(f'{o.number} {o.status}' for o in orders)})."
        )

        written = generator.demo_sessions_generate(seed=seed, max_events=options["max_events"])
        self.stdout.write(f"Browsing sessions: {written:,} generated events (seed {seed}).")
        self.stdout.write(f"Core demo data ready in {time.perf_counter() - started:.1f}s.")

        if not options["core_only"]:
            for step in plugins.demo_steps():
                step_started = time.perf_counter()
                self.stdout.write(f"Demo data for {step.app}...")
                step.func(seed=seed, stdout=self.stdout)
                self.stdout.write(f"  {step.app} done in {time.perf_counter() - step_started:.1f}s.")

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo shop ready. Log in with:"))
        self.stdout.write(f"  staff (admin at /admin/):  admin / {accounts.admin_password}")
        self.stdout.write(f"  shopper (storefront):      shopper / {accounts.shopper_password}")
        self.stdout.write("  (passwords are new on every run of seed_demo)")
