"""Shared fixtures: hermetic pip, the demo wheelhouse and sandboxes (built with the product's code).

- ``wheelhouse`` (session): the demo wheels, built once.
- ``demo_template`` (session): one demo sandbox for read-only tests; never change it.
- ``demo`` (function): a factory; each call builds a fresh sandbox (~4 s) reusing the wheelhouse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oxwizard.demo import DemoSandbox, build_demo, build_wheelhouse

DemoFactory = Callable[[], DemoSandbox]


@pytest.fixture(scope="session", autouse=True)
def hermetic_pip() -> Iterator[None]:
    """pip in tests reads no user or global config and sees no PIP_* variables."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    for key in saved:
        del os.environ[key]
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    os.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    yield
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse") / "wheelhouse")


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> DemoSandbox:
    return build_demo(tmp_path_factory.mktemp("demo-template") / "demo", wheelhouse=wheelhouse)


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> DemoFactory:
    def make() -> DemoSandbox:
        return build_demo(tmp_path_factory.mktemp("demo") / "demo", wheelhouse=wheelhouse)

    return make
