"""The environment a pip or uv child runs in, and where oxwizard's caches live: with ``os`` alone, so that
the plan's dry run can be started before anything else is imported (:mod:`oxwizard.env.early_launch`)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping


def pip_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment in which pip reads no user or global configuration.

    oxwizard reads pip's configuration once (:mod:`oxwizard.env.pipconfig`, unless ``--isolated``) and
    passes the effective sources to every child explicitly, so the children themselves read none:
    all ``PIP_*`` variables are removed and ``PIP_CONFIG_FILE`` points at ``/dev/null``.
    """
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    for key in list(env):
        if key.startswith("PIP_") or key in {"PYTHONHOME", "PYTHONPATH", "__PYVENV_LAUNCHER__"}:
            del env[key]
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


# uv's own settings that choose sources: a uv child gets the effective sources as options instead.
_UV_SOURCE_VARIABLES = ("UV_INDEX", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
    "UV_NO_INDEX", "UV_CONSTRAINT", "UV_OVERRIDE", "UV_PRERELEASE", "UV_INDEX_STRATEGY", "UV_INSECURE_HOST",
    "UV_CONFIG_FILE", "UV_NO_CONFIG", "UV_SYSTEM_PYTHON", "UV_PYTHON", "UV_REQUIRE_HASHES",
    "UV_UPGRADE", "UV_UPGRADE_PACKAGE")  # fmt: skip


def uv_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`pip_environment` for ``uv pip``: also without uv's source settings (``UV_INDEX_URL``...),
    which oxwizard passes as options (see :meth:`oxwizard.env.specs.IndexOptions.uv_args`)."""
    env = pip_environment(base)
    for key in _UV_SOURCE_VARIABLES:
        env.pop(key, None)
    env["UV_NO_PROGRESS"] = "1"
    return env


def cache_root() -> str:
    """oxwizard's cache folder: ``$OXWIZARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/oxwizard``, else
    ``~/.cache/oxwizard`` (each cache is a folder in it: ``probe``, ``api``, ``dry-run``)."""
    explicit = os.environ.get("OXWIZARD_CACHE_DIR")
    if explicit:
        return explicit
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "oxwizard")
