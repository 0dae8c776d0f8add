"""Content negotiation for endpoints that only ever answer JSON."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation


class JsonOnlyContentNegotiation(BaseContentNegotiation):
    """Pick the view's first renderer (JSON here) without parsing the Accept header.

    DRF's IgnoreClientContentNegotiation example: the hot serving endpoints answer JSON to every
    client anyway, and the default negotiation costs a noticeable share of a cached answer.
    """

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)
