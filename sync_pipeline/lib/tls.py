"""One TLS context per process, shared by every HTTP client the product (and its sandboxes) make.

`httpx.Client()` builds a fresh context each time, loading certifi's whole CA bundle: ~60 ms of CPU
a client on the 2-core machine, which was a tenth of the despatch tests' CPU (py-spy, 2026-12-02)
and is paid by every run that makes clients. The context is read-only once made, and Python's
`SSLContext` may be shared by threads, so one is enough. The same verification as httpx's default
(certifi, and `SSL_CERT_FILE` / `SSL_CERT_DIR` when set)."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
