"""Extension points the other apps register into from their AppConfig.ready().

The core app must not import recommendations/support/advertising/analytics, yet demo data,
model training and privacy erasure have to reach all of them. Each app registers its own step:

    plugins.register_demo_step("advertising", seed_demo_campaigns, order=30)
    plugins.register_training_job("recommendations", train_recommenders)
    plugins.register_data_loaded_hook("analytics", rollups_refresh_enqueue)  # f(*, start, end)
    plugins.register_erasure_step("support", erase_conversations_of)   # f(user, *, subject) -> {"rows": n}
    plugins.register_export_step("support", export_conversations_of)   # f(user, *, subject) -> JSON-able
    plugins.register_login_step("support", claim_session_conversation)  # f(*, user, previous_session_key)

Erasure and export steps get the ecommerce.privacy.DataSubject (the account plus its pre-login
session keys and anonymous ids) and must cover the same rows: the export holds exactly what
erasure removes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Step:
    app: str
    func: Callable[..., Any]
    order: int = 50


_demo_steps: list[Step] = []
_training_jobs: list[Step] = []
_erasure_steps: list[Step] = []
_export_steps: list[Step] = []
_data_loaded_hooks: list[Step] = []
_login_steps: list[Step] = []
_login_landings: list[Step] = []


def _register(bucket: list[Step], app: str, func: Callable[..., Any], order: int) -> None:
    # ready() can run twice in some test set-ups: keep one entry per (app, function).
    bucket[:] = [s for s in bucket if not (s.app == app and s.func.__qualname__ == func.__qualname__)]
    bucket.append(Step(app=app, func=func, order=order))
    bucket.sort(key=lambda s: (s.order, s.app))


def register_login_landing(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func(user) -> str | None: where this user lands after signing in when no `next` was asked
    for (the advertising portal for advertiser accounts); the first answer wins."""
    _register(_login_landings, app, func, order)


def login_landing(user: Any) -> str | None:
    for step in _login_landings:
        url = step.func(user)
        if url:
            return url
    return None


def register_demo_step(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func(*, seed: int, stdout) -> None; runs after the core demo data is loaded."""
    _register(_demo_steps, app, func, order)


def register_training_job(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func() -> dict summary; `manage.py train_models` and `make demo` run every job."""
    _register(_training_jobs, app, func, order)


def register_erasure_step(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func(user, *, subject) -> dict of counts; erases or anonymizes that app's personal data
    of the data subject (the user and their pre-login session keys / anonymous ids)."""
    _register(_erasure_steps, app, func, order)


def register_export_step(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func(user, *, subject) -> JSON-able data; part of the shopper's "download my data"."""
    _register(_export_steps, app, func, order)


def register_data_loaded_hook(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func(*, start: date, end: date) -> None; called after a bulk load (an import, the demo seed)
    wrote history dated start..end, which per-event paths (late-event watermarks) do not see."""
    _register(_data_loaded_hooks, app, func, order)


def data_loaded(*, start: date, end: date) -> None:
    """Tell every app that rows dated start..end (inclusive) were bulk-loaded."""
    for step in _data_loaded_hooks:
        step.func(start=start, end=end)


def register_login_step(app: str, func: Callable[..., Any], order: int = 50) -> None:
    """func(*, user, previous_session_key) -> None; runs when a shopper signs in, with the key of
    the session they had before (e.g. to hand that session's chat to the account)."""
    _register(_login_steps, app, func, order)


def demo_steps() -> list[Step]:
    return list(_demo_steps)


def training_jobs() -> list[Step]:
    return list(_training_jobs)


def erasure_steps() -> list[Step]:
    return list(_erasure_steps)


def export_steps() -> list[Step]:
    return list(_export_steps)


def login_steps() -> list[Step]:
    return list(_login_steps)
