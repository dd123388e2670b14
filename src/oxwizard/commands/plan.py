"""``oxwizard plan``: the exact plan for the targets, changing nothing."""

from __future__ import annotations

import argparse

from oxwizard.commands.common import (
    add_break_system_packages,
    add_env,
    add_index,
    add_installer,
    add_json,
    add_project,
    existing_project,
    flags_from,
    index_from,
    open_env,
    print_json,
    say_sources,
)

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing before the dry run starts
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from oxwizard.env.dry_run import EarlyDryRun
    from oxwizard.env.plan import Plan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="show exactly what an upgrade would change (changes nothing)",
        description="Resolve the targets with the installer's dry run and list every change, the "
        "pip check state now and the one predicted after (both by pip check's rules, from the installed "
        "metadata: the dry run is the only child process), and the exact pins. When new pip check "
        "problems are predicted, the dependents they name are tried as extra targets (a few more dry "
        "runs) and the additions that clear them are shown ('to resolve it: add `requests` to the "
        "targets: ...'; in --json: 'resolutions'). The project's own files are read too: how the "
        "project is managed (uv, Poetry, pip-tools, requirements files, pyproject.toml) and, per file, "
        "the lines that must change so that rebuilding from the files keeps the upgrade, and the "
        "lockfiles to regenerate with their own tool (in --json: 'project_files'). The public API of each "
        "distribution that changes is compared, statically, with the new version's (its wheel is "
        "downloaded and read, never imported): removed names, incompatible signatures and new "
        "deprecations, each with the project's and the installed dependents' uses by file:line, and "
        "what could not be read (in --json: 'api_impact'). Nothing is written.",
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="PEP 508 requirement, e.g. 'oxzep7==2.0.0'")
    add_env(p)
    add_project(p)
    add_index(p)
    add_json(p)
    add_break_system_packages(p)
    add_installer(p)
    p.add_argument(
        "--raise-floors",
        action="store_true",
        help="also move floors (>=1.4 -> >=2.0.1) that still admit the new version; by default they stay",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    early = start_dry_run(args)  # first: pip resolves while the rest is imported and read
    try:
        return _run(args, early)
    finally:
        if early is not None:
            early.close()
        _exit_without_collecting()


def _exit_without_collecting() -> None:
    """At the process's exit, no last garbage collection over everything the plan imported and
    made (pydantic's and griffe's objects): it cost 20-50 ms of CPU after the plan was printed,
    the time the plan's own work after the dry run takes. ``gc.freeze`` runs first thing at exit
    (atexit), so nothing changes while the process runs (nor for a caller that goes on)."""
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however many plans one process makes
    atexit.register(gc.freeze)


def start_dry_run(args: argparse.Namespace) -> EarlyDryRun | None:
    """The plan's dry run as :func:`oxwizard.cli.main` started it, before argparse and the engine
    were imported (see :mod:`oxwizard.env.early_launch`); None for a plan not run from the command
    line (nothing to remember it by)."""
    from oxwizard.env.dry_run import EarlyDryRun
    from oxwizard.env.early_launch import Launch

    launch = getattr(args, "launch", None)
    if not isinstance(launch, Launch):
        return None
    early = EarlyDryRun(launch, list(args.specs))
    if launch.argv is not None:
        from pathlib import Path

        from oxwizard.safety.journal import pending

        if pending(Path(launch.root)):  # a recovery comes first: the dry run reads what it leaves
            early.cancel()
    return early


def _preload(names: Iterable[str]) -> None:
    """What the plan shows after the dry run, imported while it runs (griffe when a comparison of
    the targets is not cached: most of it)."""
    import oxwizard.env.project_files  # noqa: F401
    from oxwizard.checks.api_impact import preload

    preload(names)


def _run(args: argparse.Namespace, early: EarlyDryRun | None) -> int:
    from packaging.utils import canonicalize_name

    from oxwizard.core.errors import ResolutionError
    from oxwizard.env.plan import cleared_by_pins, cleared_problems, compute_plan
    from oxwizard.env.specs import parse_specs

    reqs = parse_specs(args.specs)
    flags = flags_from(args)
    env = open_env(args)
    env.require_writable(args.break_system_packages)  # before pip resolves anything
    index = index_from(args, env, flags)
    names = [canonicalize_name(r.name) for r in reqs]
    project = existing_project(args)
    try:
        plan = compute_plan(env, reqs, index, early=early, meanwhile=lambda: _preload(names))
    except ResolutionError as exc:
        from oxwizard.env.project_files import missing_index_hint

        raise ResolutionError(f"{exc}{missing_index_hint(project, index)}") from None
    from oxwizard.checks.api_impact import api_impact
    from oxwizard.env.plan import plan_files
    from oxwizard.env.project_files import own_distribution

    plan.project_files = plan_files(env, plan, project, raise_floors=args.raise_floors)
    plan.api_impact = api_impact(env, plan, index, project)
    if args.json:
        print_json(plan)
    else:
        if env.externally_managed:
            print(f"{env.root}: {env.managed_note}; --break-system-packages given")
        judged = cleared_by_pins(own_distribution(project, env.distributions), plan)
        print(render_plan(plan, cleared=cleared_problems(env, plan.changes, plan.pip_check_after, judged)))
        say_sources(index, print)
        print(f"installer: {env.installer_line()}")
    return 0


def render_plan(plan: Plan, *, cleared: Sequence[str] = ()) -> str:
    """The plan in words. ``cleared``: the problems predicted after that are the project's own
    distribution's old requirements, which ``upgrade --update-pins`` rewrites (said as such)."""
    lines = [f"plan for {', '.join(plan.targets)} (python {plan.python_version}, {plan.installer})"]
    if plan.is_empty:
        lines.append("  nothing to change: the targets are already satisfied")
    for c in plan.changes:
        flags = []
        if not c.requires_python_ok:
            flags.append(f"needs Python {c.requires_python}")
        if c.yanked:
            flags.append("YANKED")
        lines.append(
            f"  {c.name:24} {c.from_version or '-':>10} -> {c.to_version or '-':<10} "
            f"{c.impact:<11} {'; '.join(flags)}".rstrip()
        )
    lines.append(
        f"pip check now:   {'ok' if not plan.pip_check_before else '; '.join(plan.pip_check_before)}"
    )
    lines.append(f"pip check after: {'ok' if not plan.pip_check_after else '; '.join(plan.pip_check_after)}")
    if cleared:
        lines.append(f"  the project's own: {'; '.join(cleared)} `upgrade --update-pins` rewrites it in "
                     "pyproject.toml, and judges the upgrade by the rewritten requirement")  # fmt: skip
    new = plan.new_problems
    for r in plan.resolutions:
        part = f" (clears {len(r.clears)} of the {len(new)} new problems)" if len(r.clears) < len(new) else ""
        lines.append(f"  to resolve it: {r.sentence()}{part}")
    if not plan.resolutions and [p for p in plan.new_problems if p not in cleared]:
        lines.append("  to resolve it: no installed dependent, added as a target, clears it")
    lines.append("install exactly: " + " ".join(plan.pinned) if plan.pinned else "install exactly: -")
    if plan.api_impact is not None:
        lines += plan.api_impact.lines()
    files = plan.project_files
    if files is not None:
        lines.append(f"project: {files.managed_by()}")
        preview = files.preview()
        if preview and plan.is_empty:  # installed by hand, or by an upgrade whose pins were not written
            lines.append("project files that do not hold what is installed (nothing to upgrade, so nothing "
                         "is written; edit them so):")  # fmt: skip
        elif preview:
            lines.append("project files to change (planned, not written):")
        lines += [f"  {line}" for line in preview]
        for why in files.undone:
            lines.append(f"  {'as they are' if plan.is_empty else 'without them'}: {why}")
    return "\n".join(lines)
