"""Calling a WSGI application directly, as gunicorn does (the test client has its own handler)."""

from __future__ import annotations

import io
import sys


def wsgi_environ(method: str, path: str, query: str = "", cookie: str = "", **headers: str) -> dict:
    """A WSGI environ for `method path?query` on testserver; headers as accept_language='zh-hans'."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ
