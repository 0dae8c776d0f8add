"""The serving-path middleware stays as strict as the stock one (issue 12's middleware floor).

CachedPolicyCSPMiddleware builds the CSP string once; LazyMessageMiddleware makes the message
storage on first use. Each must answer exactly what django-csp / Django's own middleware would.
"""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.decorators import csp_update
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.contrib import messages
from django.contrib.messages.storage import default_storage
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from ecommerce.middleware import LazyMessageMiddleware
from ecommerce.security_headers import CachedPolicyCSPMiddleware

pytestmark = pytest.mark.django_db


def _directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";") if part.strip()}


def _through(middleware_class, view, request):
    middleware = middleware_class(view)
    return middleware(request)


@pytest.mark.parametrize(
    "path", ["/api/products/1/similar/", "/api/ads/serve/?slot=product", "/api/recommendations/me/?k=3", "/"]
)
def test_every_response_carries_the_configured_policy_and_headers(client, path):
    response = client.get(path)
    assert _directives(response[HEADER]) == _directives(build_policy())
    assert "frame-ancestors 'none'" in response[HEADER]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"]


def test_a_changed_setting_changes_the_cached_policy(client, settings):
    client.get("/api/products/1/similar/")  # builds and keeps the string
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/api/products/1/similar/")[HEADER] == "default-src 'none'"


def test_report_only_policy_is_cached_and_sent_too(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp/"}}
    response = client.get("/api/products/1/similar/")
    assert _directives(response[HEADER_REPORT_ONLY]) == {"default-src 'self'", "report-uri /csp/"}
    assert HEADER in response


def test_a_nonce_and_a_view_decorator_still_take_django_csps_own_path():
    factory = RequestFactory()

    def uses_nonce(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    cached = _through(CachedPolicyCSPMiddleware, uses_nonce, factory.get("/"))
    stock = _through(CSPMiddleware, uses_nonce, factory.get("/"))
    nonce = cached.content.decode().split("'")[1]
    assert f"'nonce-{nonce}'" in cached[HEADER]
    assert _directives(cached[HEADER].replace(nonce, "N")) == _directives(
        stock[HEADER].replace(stock.content.decode().split("'")[1], "N")
    )

    @csp_update({"img-src": ["https://images.example"]})
    def decorated(request):
        return HttpResponse("ok")

    assert "https://images.example" in _through(CachedPolicyCSPMiddleware, decorated, factory.get("/"))[HEADER]
    # ...and the next plain response does not inherit the decorator's change.
    plain = _through(CachedPolicyCSPMiddleware, lambda request: HttpResponse("ok"), factory.get("/"))
    assert "https://images.example" not in plain[HEADER]


def test_a_nonce_asked_for_after_the_header_was_written_is_an_error():
    from csp.exceptions import CSPNonceError

    request = RequestFactory().get("/")
    _through(CachedPolicyCSPMiddleware, lambda r: HttpResponse("ok"), request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def _message_request(session, cookie: str = ""):
    request = RequestFactory().get("/")
    request.session = session
    if cookie:
        request.COOKIES["messages"] = cookie
    return request


def test_a_message_added_is_stored_and_read_on_the_next_request(client):
    def adds(request):
        messages.success(request, "Saved.")
        return HttpResponse("ok")

    session = client.session
    response = LazyMessageMiddleware(adds)(_message_request(session))
    cookie = response.cookies["messages"].value

    seen = []

    def reads(request):
        seen.extend(m.message for m in messages.get_messages(request))
        return HttpResponse("ok")

    after = LazyMessageMiddleware(reads)(_message_request(session, cookie))
    assert seen == ["Saved."]
    assert after.cookies["messages"].value == ""  # read once: cleared, as Django does


def test_a_request_that_never_touches_messages_leaves_them_pending(client):
    session = client.session
    response = LazyMessageMiddleware(lambda r: messages.info(r, "Later.") or HttpResponse("ok"))(
        _message_request(session)
    )
    cookie = response.cookies["messages"].value
    request = _message_request(session, cookie)
    untouched = LazyMessageMiddleware(lambda r: HttpResponse("ok"))(request)
    assert "messages" not in untouched.cookies  # nothing rewritten or deleted
    assert request._messages._wrapped is empty  # the storage was never even built
    pending = _message_request(session, cookie)
    pending._messages = default_storage(pending)
    assert [m.message for m in messages.get_messages(pending)] == ["Later."]
