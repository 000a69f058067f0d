"""The development secret key, and the only addresses it may serve (loopback).

A root module: app.py, web/ and cli/ all check it, and neither interface may import the other."""

from __future__ import annotations

import ipaddress

#: The key of the test suite and of nothing else: refused on any address but loopback (app.py, create_app;
#: ``flask serve``; and per request, by the address the request arrived on: web/__init__.py).
DEV_SECRET_KEY = "dev-only-not-secret"


class DevKeyRefused(Exception):
    """The development secret key with a server reachable from elsewhere."""


def is_loopback(host: str | None) -> bool:
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_dev_key_off_loopback(secret_key: str, host: str | None) -> None:
    """DevKeyRefused when ``secret_key`` is the development key and ``host`` is not a loopback address:
    anyone who knows the (published) key could forge a session cookie for any account."""
    if secret_key == DEV_SECRET_KEY and not is_loopback(host):
        raise DevKeyRefused(f"SECRET_KEY: the development key may only serve 127.0.0.1/::1, not {host!r}; "
                            "set SECRET_KEY (or leave it empty outside production: a random one is kept "
                            "in instance/secret_key)")
