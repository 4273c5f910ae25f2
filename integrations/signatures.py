"""HMAC signatures of webhook bodies: GitHub's ``X-Hub-Signature-256`` and Jira's
``X-Hub-Signature`` (both ``sha256=<hex>`` of the raw body keyed with the secret), and ours,
``X-Flowboard-Signature``. Compared in constant time."""

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
