"""``oxwizard env``: describe the target environment."""

from __future__ import annotations

import argparse

from oxwizard.commands.common import (
    add_env,
    add_installer,
    add_json,
    add_project,
    existing_project,
    open_env,
    print_json,
    say,
    say_sources,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "env",
        help="describe the target environment",
        description="Describe the target environment, and how the project declares it (uv, Poetry, "
        "pip-tools, requirements files, pyproject.toml; --project, default .).",
    )
    add_env(p)
    add_project(p)
    add_json(p)
    add_installer(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.env.pipconfig import effective_index
    from oxwizard.env.project_files import ProjectFiles, detect
    from oxwizard.env.specs import IndexOptions

    env = open_env(args)
    facts = env.facts()
    sources = effective_index(env, IndexOptions())  # what pip install in it would use
    project = ProjectFiles(managers=detect(existing_project(args)))
    if args.json:
        data = facts.model_dump(mode="json")
        data["sources"] = sources.redacted().model_dump(mode="json")
        data["project"] = [m.model_dump(mode="json") for m in project.managers]
        data["distributions"] = [d.model_dump(mode="json") for d in env.distributions.values()]
        print_json(data)
        return 0
    say(f"environment   {facts.prefix}{'' if facts.is_venv else ' (not a venv)'}")
    say(f"interpreter   {facts.interpreter} ({facts.implementation} {facts.version})")
    say(f"platform      {facts.platform}  tags {', '.join(facts.tags[:2])}, ...")
    say(f"site-packages {facts.purelib}")
    for extra in env.site_paths:
        if str(extra) not in (facts.purelib, facts.platlib):
            say(f"  also read   {extra}")
    if env.externally_managed:
        say(f"managed       {env.managed_note}")
    say(f"installer     {env.installer_line()}")
    say(f"fingerprint   {facts.fingerprint}")
    say(f"project       {project.managed_by()}")
    say_sources(sources)
    say(f"distributions {len(env.distributions)}")
    for d in env.distributions.values():
        flags = [f for f, on in (("requested", d.requested), ("editable", d.editable)) if on]
        say(f"  {d.name:30} {d.version:15} {' '.join(flags)}")
    return 0
