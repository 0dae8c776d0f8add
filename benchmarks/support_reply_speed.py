"""Speed: one bot reply in process vs. a bare Django JSON view, both through the full middleware stack.

    DATABASE_URL=sqlite:////tmp/support.sqlite3 ML_ARTIFACT_ROOT=/tmp/support_models \
        .venv/bin/python benchmarks/support_reply_speed.py [--n 200]

Needs a migrated database with an active `support.intents` model (manage.py train_models --only support);
without one it measures the keyword fallback and says so. Creates a throwaway shopper with one order.
The bare view is a plain Django view returning JsonResponse, mounted next to the real URLs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")
# The chat throttle (30/min by default) would stop a benchmark loop: lift it for this process only.
os.environ["THROTTLE_CHAT"] = "1000000/min"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402


def bare_json_view(request):
    return JsonResponse({"ok": True})


def store_and_echo_view(request, conversation_id: int):
    """The chat endpoint's persistence without the bot: parse JSON, store the message, return JSON."""
    import json

    from support.models import Conversation, Message

    conversation = Conversation.objects.get(pk=conversation_id, user=request.user)
    message = Message.objects.create(
        conversation=conversation, sender="shopper", text=json.loads(request.body)["text"][:1000]
    )
    return JsonResponse({"id": message.pk, "text": message.text}, status=201)


urls = types.ModuleType("support_bench_urls")
urls.urlpatterns = [
    path("bench/bare/", bare_json_view),
    path("bench/echo/<int:conversation_id>/", store_and_echo_view),
    path("", include(settings.ROOT_URLCONF)),
]
sys.modules["support_bench_urls"] = urls


# Thread CPU time per call (ms), next to the wall times: on a shared box the store view's commit
# waits on other jobs' disk traffic, which hides the CPU work that a quiet box's wall time shows.
CPU_MS: dict[str, list[float]] = {}


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started, cpu_started = time.perf_counter(), time.thread_time()
        fn()
        out.append((time.perf_counter() - started) * 1000)
        CPU_MS.setdefault(fn.__name__, []).append((time.thread_time() - cpu_started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    from ecommerce.models import Order, User
    from support.engine import intent_model_version

    with override_settings(ROOT_URLCONF="support_bench_urls", ALLOWED_HOSTS=["*"]):
        user, _ = User.objects.get_or_create(username="bench_shopper", defaults={"email": "bench@example.com"})
        Order.objects.get_or_create(
            number="W261128BE01", defaults={"user": user, "email": user.email, "status": "paid"}
        )
        client = Client()
        # The backend a real login records (storefront LoginView), not the first one in the settings.
        client.force_login(user, backend="ecommerce.auth_backends.CachedModelBackend")
        if settings.SHARED_CACHE:  # the login's last_login write leaves a short tombstone on the cached user
            from ecommerce.auth_backends import TOMBSTONE_SECONDS

            time.sleep(TOMBSTONE_SECONDS + 1)
        conversation = client.post("/api/support/conversations/", {}, content_type="application/json").json()["id"]
        url = f"/api/support/conversations/{conversation}/messages/"
        texts = ["where is my order W261128BE01?", "what payment methods do you take", "我的订单到哪了", "hello"]
        counter = {"i": 0}

        def reply():
            counter["i"] += 1
            response = client.post(url, {"text": texts[counter["i"] % len(texts)]}, content_type="application/json")
            assert response.status_code == 201, response.content

        def bare():
            assert client.get("/bench/bare/").status_code == 200

        def echo():
            response = client.post(
                f"/bench/echo/{conversation}/",
                {"text": "where is my order W261128BE01?"},
                content_type="application/json",
            )
            assert response.status_code == 201

        from support.dialogue import Dialogue

        def decide():
            counter["i"] += 1
            Dialogue(state={}, shopper_user=user).respond(texts[counter["i"] % len(texts)])

        timed(reply, 10), timed(bare, 10), timed(echo, 10)  # warm caches and the model
        CPU_MS.clear()
        # Interleaved, so the machine's changing load (shared 2 cores) hits all four alike.
        bot_ms, bare_ms, echo_ms, decide_ms = [], [], [], []
        for _ in range(args.n):
            for fn, sink in ((reply, bot_ms), (bare, bare_ms), (echo, echo_ms), (decide, decide_ms)):
                sink.extend(timed(fn, 1))
    bot_median, bare_median = statistics.median(bot_ms), statistics.median(bare_ms)
    echo_median, decide_median = statistics.median(echo_ms), statistics.median(decide_ms)
    print(f"intent model: {intent_model_version()}")
    print(f"bot reply  median {bot_median:.2f} ms  p90 {sorted(bot_ms)[int(len(bot_ms) * 0.9)]:.2f} ms  (n={args.n})")
    print(
        f"bare JSON  median {bare_median:.2f} ms  p90 {sorted(bare_ms)[int(len(bare_ms) * 0.9)]:.2f} ms  (n={args.n})"
    )
    print(f"store+echo JSON view  median {echo_median:.2f} ms  (n={args.n})")
    print(f"bot decision only (NLU + entities + dialogue + order read, no HTTP/writes)  median {decide_median:.2f} ms")
    print(f"ratio bot reply / bare JSON: {bot_median / bare_median:.1f}x")
    print(f"ratio bot reply / store+echo JSON view: {bot_median / echo_median:.2f}x")
    cpu_bot, cpu_echo = statistics.median(CPU_MS["reply"]), statistics.median(CPU_MS["echo"])
    print(f"thread CPU: bot reply {cpu_bot:.2f} ms, store+echo {cpu_echo:.2f} ms, ratio {cpu_bot / cpu_echo:.2f}x")


if __name__ == "__main__":
    main()
