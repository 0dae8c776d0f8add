"""MemoLocaleMiddleware (ecommerce/middleware.py) decides every request's language as Django's
LocaleMiddleware does: the same active language in the view, request.LANGUAGE_CODE and response
headers, for first and remembered decisions alike."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.test import RequestFactory, override_settings
from django.utils import translation

from ecommerce.middleware import MemoLocaleMiddleware

COOKIES = [None, "", "zh-hans", "zh-Hans", "en", "fr", "zh", "xx" * 200]
ACCEPT = [
    "",
    "zh-CN,zh;q=0.9,en;q=0.8",
    "en-GB,en;q=0.9",
    "fr-FR,fr;q=0.9",
    "de;q=0.5, zh-hans;q=0.8",
    "*",
    "zh-TW",
    "zh-hant-HK, en;q=0.1",
    "garbage;;;q=x",
    "x" * 300,
]
PATHS = ["/", "/api/ads/serve/?slot=listing", "/zh-hans/products/1/", "/en/", "/missing/"]


def _answer(middleware_class, request_factory, path, cookie, accept, view_language=None):
    seen = {}

    def view(request):
        seen["active"] = translation.get_language()
        if view_language:
            translation.activate(view_language)  # a view that switches language (set_language does)
        response = HttpResponse("ok", status=404 if path == "/missing/" else 200)
        response["Vary"] = "Cookie"
        return response

    request = request_factory.get(path, HTTP_ACCEPT_LANGUAGE=accept) if accept else request_factory.get(path)
    if cookie is not None:
        request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = cookie
    try:
        response = middleware_class(view)(request)
        return {
            "active": seen["active"],
            "request": request.LANGUAGE_CODE,
            "vary": response.get("Vary"),
            "content_language": response.get("Content-Language"),
            "status": response.status_code,
        }
    finally:
        translation.deactivate()


def test_same_decisions_as_djangos_middleware_first_and_remembered():
    factory = RequestFactory()
    MemoLocaleMiddleware.decided.clear()
    compared = 0
    for _ in range(2):  # the second pass answers from what the first remembered
        for path in PATHS:
            for cookie in COOKIES:
                for accept in ACCEPT:
                    ours = _answer(MemoLocaleMiddleware, factory, path, cookie, accept)
                    django = _answer(LocaleMiddleware, factory, path, cookie, accept)
                    assert ours == django, (path, cookie, accept)
                    compared += 1
    assert compared == 2 * len(PATHS) * len(COOKIES) * len(ACCEPT)
    # Chinese was chosen somewhere and English elsewhere: the comparison covered both languages.
    answers = {_answer(MemoLocaleMiddleware, factory, "/", c, a)["active"] for c in COOKIES for a in ACCEPT}
    assert answers == {"en", "zh-hans"}
    # Remembered, but not the over-long header or cookie.
    assert (None, "zh-CN,zh;q=0.9,en;q=0.8") in MemoLocaleMiddleware.decided
    assert all(len(accept) <= 256 and (c is None or len(c) <= 256) for c, accept in MemoLocaleMiddleware.decided)


def test_a_language_switched_by_the_view_is_the_one_the_response_names():
    factory = RequestFactory()
    ours = _answer(MemoLocaleMiddleware, factory, "/", None, "", view_language="zh-hans")
    assert ours == _answer(LocaleMiddleware, factory, "/", None, "", view_language="zh-hans")
    assert ours["content_language"] == "zh-hans" and ours["active"] == "en"


def test_changed_language_settings_forget_remembered_decisions():
    factory = RequestFactory()
    assert _answer(MemoLocaleMiddleware, factory, "/", None, "")["active"] == "en"
    assert (None, "") in MemoLocaleMiddleware.decided
    with override_settings(LANGUAGE_CODE="zh-hans"):
        assert MemoLocaleMiddleware.decided == {}
        assert _answer(MemoLocaleMiddleware, factory, "/", None, "")["active"] == "zh-hans"
    assert MemoLocaleMiddleware.decided == {}
    assert _answer(MemoLocaleMiddleware, factory, "/", None, "")["active"] == "en"


def test_the_memory_is_bounded():
    MemoLocaleMiddleware.decided.clear()
    factory = RequestFactory()
    for n in range(MemoLocaleMiddleware.MAX_REMEMBERED + 10):
        _answer(MemoLocaleMiddleware, factory, "/", None, f"en;q=0.{n + 1}")
        assert len(MemoLocaleMiddleware.decided) <= MemoLocaleMiddleware.MAX_REMEMBERED
    assert len(MemoLocaleMiddleware.decided) == 10  # full at 1,024: forgotten, then filled again


@pytest.mark.django_db
def test_the_site_uses_it(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response["Content-Language"] == "zh-hans"
    assert "Accept-Language" in response["Vary"]
    assert "zh-CN,zh;q=0.9" in {accept for _, accept in MemoLocaleMiddleware.decided}
