"""The package sources pip would use in an environment: its configuration files and ``PIP_*``.

``pip install`` in an environment reads the global, user and site (inside the venv) configuration
files, ``PIP_CONFIG_FILE`` and the ``PIP_*`` variables, and merges the command line over them. To
use exactly what pip would, oxwizard asks pip itself: a short probe runs pip's own ``install``
option parser (the one ``pip install`` uses) inside the target interpreter, with the user's
environment and oxwizard's flags as its command line, and reports the effective values with the
file, section or variable each came from. The result becomes the :class:`IndexOptions` that plan,
outdated and every install use explicitly; the children themselves stay isolated
(:func:`oxwizard.core.proc.pip_environment`), so what the runbook records is exactly what was used.

With ``--isolated`` nothing is read: only the flags count (pip's ``--isolated``).

The probe costs a start of the target interpreter and an import of pip (a third of a second on a
large environment, as much as the rest of a plan): its answer is cached, in memory and on disk
(beside the interpreter probe's), keyed on the interpreter, the pip that reads, the command line,
the ``PIP_*`` and config-locating variables, and the size and mtime of every configuration file pip
would read (present or not). Editing, adding or removing one of them asks pip again. An answer that
holds credentials (``https://user:token@...``) is kept in memory only, never written to the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from oxwizard.core import proc
from oxwizard.core.errors import UsageError
from oxwizard.core.pipenv import cache_root
from oxwizard.core.redact import redact_text, redact_url
from oxwizard.env.environment import Environment
from oxwizard.env.specs import CARRIED, PYPI_SIMPLE, IndexOptions, SourceOrigin

# Runs in the target interpreter (or ours, told the target's prefix, when the target has no pip):
# argv = [prefix, pip's parent folder or "", carried option names (JSON), pip's command line (JSON)].
_PROBE = r"""
import configparser, json, os, sys
prefix, pip_parent, keys, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
if pip_parent:
    sys.path.append(pip_parent)
sys.prefix = prefix  # the site configuration file is PREFIX/pip.conf, as `pip --python` reads it
from pip._internal.commands import create_command
cmd = create_command("install")
options, _ = cmd.parse_args(argv)
config = cmd.parser.config
files = dict(config.iter_config_files())
skip_files = files.get("env", [])[0:1] == [os.devnull]
order = ["global", "user", "site", "env"]
parsed = []
for variant in order:
    for name in ([] if skip_files else files.get(variant, [])):
        parser = configparser.RawConfigParser()
        if os.path.exists(name):
            try:
                parser.read(name, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
        parsed.append((name, parser))
def norm(name):
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name
environ = {norm(k[4:]): k for k in os.environ if k.startswith("PIP_")}
origins = {}
for key in keys:
    if key in environ:
        origins[key] = environ[key]
        continue
    for section in ("install", "global"):
        found = None
        for name, parser in parsed:
            if parser.has_section(section):
                for item, _ in parser.items(section):
                    if norm(item) == key:
                        found = f"{name} [{section}]"
        if found:
            origins[key] = found
            break
value = lambda dest: getattr(options, dest, None)
try:  # every file pip could read, present or not: the cache of this answer is keyed on them
    from pip._internal.configuration import get_configuration_files
    every = [f for group in get_configuration_files().values() for f in group]
except Exception:
    every = []
every += [f for group in files.values() for f in group]
# The keyring an interactive pip would ask for a password (see pip's network/auth.py): its
# --keyring-provider; "auto" is the keyring this interpreter imports, else a keyring program on
# PATH outside its own scripts folder. pip older than 23.1 has no such option (and asks by itself).
provider, program = value("keyring_provider"), None
if provider in ("auto", "import"):
    import importlib.util
    if importlib.util.find_spec("keyring") is not None:
        provider, program = "import", sys.executable
    every += [os.path.join(p, "keyring") for p in sys.path if os.path.isdir(p)]  # installed later
if program is None and provider in ("auto", "subprocess"):
    import shutil, sysconfig
    scripts = os.path.realpath(sysconfig.get_path("scripts"))
    path = os.pathsep.join(p for p in os.environ.get("PATH", os.defpath).split(os.pathsep)
                           if os.path.realpath(p or ".") != scripts)
    program = shutil.which("keyring", path=path)
    provider = "subprocess" if program else None
print(json.dumps({
    "files": sorted(set(every)),
    "values": {
        "index-url": value("index_url"), "extra-index-url": value("extra_index_urls") or [],
        "find-links": value("find_links") or [], "no-index": bool(value("no_index")),
        "constraint": value("constraints") or [], "pre": bool(value("pre")),
        "trusted-host": value("trusted_hosts") or [], "cert": value("cert"),
        "client-cert": value("client_cert"), "proxy": value("proxy") or None,
        "keyring-provider": provider if program else None, "keyring-program": program,
    },
    "origins": origins,
}))
"""

PIP_DEFAULT_INDEX = PYPI_SIMPLE


def effective_index(
    env: Environment,
    flags: IndexOptions,
    *,
    isolated: bool = False,
    environ: Mapping[str, str] | None = None,
) -> IndexOptions:
    """The sources ``pip install`` in ``env`` would use with ``flags`` on its command line.

    ``flags`` is what was given to oxwizard (validated by :meth:`IndexOptions.build`); with
    ``isolated`` they are all there is. Raises :class:`UsageError` when pip's configuration cannot
    be read (a broken file), naming ``--isolated`` as the way around it.
    """
    if isolated:
        return flags.model_copy(update={"isolated": True})
    found = read_pip_config(env, _argv_of(flags), environ)
    values, where = found["values"], found["origins"]
    assert isinstance(values, dict) and isinstance(where, dict)
    flag_values = {
        "index-url": [flags.index_url] if flags.index_url else [],
        "extra-index-url": flags.extra_index_urls,
        "find-links": flags.find_links,
    }
    index_url = values.get("index-url")
    if index_url == PIP_DEFAULT_INDEX and "index-url" not in where and not flags.index_url:
        index_url = None  # pip's own default: leave it implicit, as before
    links = [_local(link) for link in values.get("find-links") or []]
    out = IndexOptions(
        index_url=index_url,
        extra_index_urls=list(values.get("extra-index-url") or []),
        find_links=links,
        no_index=bool(values.get("no-index")),
        constraints=[_local(c) for c in values.get("constraint") or []],
        pre=bool(values.get("pre")),
        trusted_hosts=list(values.get("trusted-host") or []),
        cert=values.get("cert") or None,
        client_cert=values.get("client-cert") or None,
        proxy=values.get("proxy") or None,
    )
    origins: list[SourceOrigin] = []
    listed: list[tuple[str, object]] = [
        ("index-url", out.index_url),
        *[("extra-index-url", u) for u in out.extra_index_urls],
        *[("find-links", u) for u in out.find_links],
        ("no-index", "true" if out.no_index else None),
        *[("constraint", c) for c in out.constraints],
        ("pre", "true" if out.pre else None),
        *[("trusted-host", h) for h in out.trusted_hosts],
        ("cert", out.cert),
        ("client-cert", out.client_cert),
        ("proxy", out.proxy),
    ]
    for option, value in listed:
        if value is None:
            continue
        text = str(value)
        if text in flag_values.get(option, []) or (option == "no-index" and flags.no_index):
            origin = f"--{option}"
        else:
            origin = str(where.get(option) or "pip's configuration")
        origins.append(
            SourceOrigin(option=option, value=redact_url(text) if "://" in text else text, origin=origin)
        )
    keyring = (values.get("keyring-provider"), values.get("keyring-program"))
    return out.model_copy(update={"origins": origins}).with_keyring(*map(_text, keyring))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_pip_config(
    env: Environment, argv: list[str], environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """pip's parsed ``install`` options for ``argv`` and where each came from: cached when no
    configuration file changed since pip was last asked (see the module's description)."""
    base = dict(environ if environ is not None else os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__"):
        base.pop(key, None)
    key = _cache_key(env, argv, base)
    cached = _cached(key)
    if cached is not None:
        return cached
    found = _probe(env, argv, base)
    _remember(key, found)
    return found


# -- the cache ------------------------------------------------------------------------------------------
_CACHE: dict[str, dict[str, object]] = {}
_LOCATING = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "APPDATA", "PROGRAMDATA", "PATH")  # PATH: keyring


def _cache_dir() -> Path:
    return Path(cache_root()) / "pipconfig"


def _stamp(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def _cache_key(env: Environment, argv: list[str], environ: Mapping[str, str]) -> str:
    """What the answer depends on besides the configuration files themselves."""
    inside = [p / "pip" / "__init__.py" for p in env.site_paths if (p / "pip" / "__init__.py").exists()]
    reader = str(inside[0]) if inside else os.path.join(_own_pip_parent(), "pip", "__init__.py")
    parts = [str(env.python), _stamp(str(env.python.resolve())), str(env.prefix), reader, _stamp(reader)]
    parts += [json.dumps(CARRIED), json.dumps(argv)]
    parts += [f"{k}={environ.get(k, '')}" for k in _LOCATING]
    parts += sorted(f"{k}={v}" for k, v in environ.items() if k.startswith("PIP_"))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _fresh(entry: object) -> dict[str, object] | None:
    """The answer of a cache entry whose configuration files are all as they were, else None."""
    if not isinstance(entry, dict):
        return None
    stamps, found = entry.get("stamps"), entry.get("found")
    if (
        not isinstance(stamps, dict)
        or not isinstance(found, dict)
        or not isinstance(found.get("values"), dict)
    ):
        return None
    if any(_stamp(str(path)) != stamp for path, stamp in stamps.items()):
        return None
    return found


def _cached(key: str) -> dict[str, object] | None:
    found = _fresh(_CACHE.get(key))
    if found is not None:
        return found
    try:
        entry = json.loads((_cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = _fresh(entry)
    if found is not None:
        _CACHE[key] = entry
    return found


def _remember(key: str, found: dict[str, object]) -> None:
    files = found.get("files")
    if not isinstance(files, list) or not files:
        return  # a probe that did not say what it read: never trusted later
    entry = {"stamps": {str(f): _stamp(str(f)) for f in files}, "found": found}
    _CACHE[key] = entry
    text = json.dumps(entry)
    if redact_text(text) != text:
        return  # credentials: kept in memory only
    folder = _cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a read-only home: the cache is an optimisation only


def _probe(env: Environment, argv: list[str], base: dict[str, str]) -> dict[str, object]:
    """Run the probe: pip's parsed ``install`` options for ``argv`` and where each came from."""
    own_pip = _own_pip_parent()
    tail = [str(env.prefix), "", json.dumps(CARRIED), json.dumps(argv)]
    done = None
    if env.has_pip:
        done = proc.run([str(env.python), "-I", "-c", _PROBE, *tail], env=base, timeout=120)
    if (done is None or not done.ok) and own_pip:
        # No pip in the environment (or one too old for this): ours reads the configuration, as
        # `pip --python ENV` would (the site file is still the environment's).
        tail[1] = own_pip
        done = proc.run([sys.executable, "-I", "-c", _PROBE, *tail], env=base, timeout=120)
    if done is None:
        raise UsageError("cannot read pip's configuration: no pip to read it with (pass --isolated)")
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.ok else None
    except (ValueError, IndexError):
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("values"), dict):
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        why = redact_text(lines[-1].strip()) if lines else f"exit code {done.returncode}"
        raise UsageError(f"cannot read pip's configuration: {why} (pass --isolated to ignore it)")
    return found


def _argv_of(flags: IndexOptions) -> list[str]:
    argv: list[str] = []
    if flags.index_url:
        argv += ["--index-url", flags.index_url]
    for url in flags.extra_index_urls:
        argv += ["--extra-index-url", url]
    for link in flags.find_links:
        argv += ["--find-links", link]
    if flags.no_index:
        argv.append("--no-index")
    return argv


def _local(link: str) -> str:
    """A local find-links folder or constraints file as an absolute path (as pip would find it)."""
    if "://" in link:
        return link
    path = Path(link).expanduser()
    return str(path.resolve()) if path.exists() else link


def _own_pip_parent() -> str:
    spec = importlib.util.find_spec("pip")
    if spec is None or spec.origin is None:
        return ""
    return str(Path(spec.origin).parent.parent)
