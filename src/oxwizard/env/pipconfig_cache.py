"""The last answer of pip's configuration probe, kept until anything it depends on changes.

The probe (:mod:`oxwizard.env.pipconfig`) starts an interpreter that imports pip's option parser:
most of a second on a quiet machine, and it ran on every ``outdated``, plan and wizard start. Its
answer depends only on the command line, the ``PIP_*`` variables (and those that move pip's
configuration files: ``HOME``, ``XDG_CONFIG_*``), the interpreter and its pip, and the contents of
the configuration files pip looked at — present or not. All of these are in the key or checked by
the files' size and modification time, so a changed file, a new one, or another pip asks again.
Stored beside the index cache (:func:`oxwizard.env.index.cache_dir`), without credentials: an entry
holding any is not stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from oxwizard.env.environment import Environment
from oxwizard.env.index import cache_dir, store_json

_MOVERS = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "APPDATA", "PYTHONUTF8")


def _path(env: Environment, argv: list[str], environ: Mapping[str, str]) -> Path:
    keyed = {
        "python": str(env.python),
        "prefix": str(env.prefix),
        "fingerprint": env.fingerprint(),  # another pip (or anything installed) asks again
        "argv": argv,
        "environ": sorted((k, v) for k, v in environ.items() if k.startswith("PIP_") or k in _MOVERS),
    }
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()
    return cache_dir() / "pip-config" / f"{key}.json"


def _stamp(name: str) -> list[int] | None:
    try:
        st = os.stat(name)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def load(env: Environment, argv: list[str], environ: Mapping[str, str]) -> dict[str, object] | None:
    """The probe's answer stored for these inputs, if every file it read is as it was."""
    try:
        entry = json.loads(_path(env, argv, environ).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files, found = entry.get("files"), entry.get("found")
    if not isinstance(files, dict) or not isinstance(found, dict):
        return None
    if any(_stamp(name) != stamp for name, stamp in files.items()):
        return None
    return found


def store(env: Environment, argv: list[str], environ: Mapping[str, str], found: dict[str, object]) -> None:
    """Keep ``found`` (the probe's answer, which names the files pip looked at) for next time."""
    names = found.get("files")
    if not isinstance(names, list) or "@" in json.dumps(found.get("values")):
        return  # an older probe, or credentials in a URL: asked again next time
    entry = {"files": {str(n): _stamp(str(n)) for n in names}, "found": found}
    store_json(_path(env, argv, environ), entry)
