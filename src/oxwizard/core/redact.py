"""Credentials never leave the process: redaction of index URLs and of free text.

Every URL that may carry a user name, password or token goes through :func:`redact_url` before it
is stored in a runbook, printed, logged or put in an error message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "****"

# scheme://userinfo@  (also VCS forms such as git+https://)
# The user-info runs to the LAST "@" before the host part ends, so that a password holding a raw
# "@" (``https://user:p@ss@host``) is masked whole.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#]+)@")


def redact_url(url: str) -> str:
    """Replace the user-info part of ``url`` (user, user:password, token) by ``****``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        return redact_text(url)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{MASK}@{host}", parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Redact every ``scheme://userinfo@`` occurrence inside ``text``."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
