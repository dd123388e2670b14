"""The password of a private index from the keyring pip would ask, after the index said 401.

pip asks its keyring only when an index refuses it (``handle_401`` in pip's ``network/auth.py``),
first for the index's URL, then for its host: with ``--keyring-provider import`` the ``keyring``
module its own interpreter imports (``keyring.get_credential``; plugins such as artifacts-keyring
answer there), with ``subprocess`` a ``keyring get SERVICE USER`` program on PATH, which needs the
user name in the index URL. :mod:`oxwizard.env.pipconfig` finds out which one pip would use
(:attr:`IndexOptions.keyring_provider`); this asks it the same way, in a child, so that what the
index reader (:mod:`oxwizard.env.index`) sees is what pip would. The answer is kept in memory only.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from oxwizard.core import proc
from oxwizard.core.pipenv import pip_environment
from oxwizard.env.specs import IndexOptions

# Runs in pip's interpreter: argv = [index URL, host, user name or ""]; prints [user, password].
_ASK = r"""
import json, sys
import keyring
user = sys.argv[3] or None
for service in sys.argv[1:3]:
    if hasattr(keyring, "get_credential"):
        found = keyring.get_credential(service, user)
        if found is not None:
            print(json.dumps([found.username, found.password]))
            break
    elif user is not None:
        password = keyring.get_password(service, user)
        if password:
            print(json.dumps([user, password]))
            break
"""


def keyring_credentials(index: IndexOptions, url: str, user: str | None) -> tuple[str, str] | None:
    """The user name and password pip's keyring holds for the index at ``url`` (its URL without
    credentials; ``user``: the user name the URL gave, if any), or None."""
    program, provider = index.keyring_program, index.keyring_provider
    if not program or not provider:
        return None
    services = [url.rstrip("/") + "/", urlsplit(url).netloc]
    if provider == "import":
        done = proc.run([program, "-c", _ASK, *services, user or ""], env=pip_environment(), timeout=120)
        lines = done.stdout.strip().splitlines() if done.ok else []
        try:
            found = json.loads(lines[-1]) if lines else None
        except ValueError:
            return None
        if isinstance(found, list) and len(found) == 2 and all(isinstance(x, str) for x in found):
            return found[0], found[1]
        return None
    if user is None:
        return None  # as pip: the keyring program is asked for a user's password only
    for service in services:
        done = proc.run([program, "get", service, user], env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                        timeout=120)  # fmt: skip
        if done.ok:
            return user, done.stdout.strip(os.linesep)
    return None
