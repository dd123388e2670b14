"""``oxwizard checkpoints``: list (and prune) the checkpoints of an environment."""

from __future__ import annotations

import argparse

from oxwizard.commands.common import add_env, add_json, note, open_env, print_json, say


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "checkpoints",
        help="list the checkpoints of an environment (and prune old ones)",
        description="List the checkpoints taken before upgrades of this environment, newest last. "
        "Their stashes live in ENV/.oxwizard/checkpoints/.",
    )
    add_env(p)
    add_json(p)
    p.add_argument("--prune", type=int, metavar="KEEP", default=None, help="delete all but the KEEP newest")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.safety.checkpoint import list_checkpoints, prune_checkpoints
    from oxwizard.safety.lock import env_lock

    env = open_env(args)
    pruned: list[str] = []
    if args.prune is not None:
        with env_lock(env, "oxwizard checkpoints --prune", on_stale=note):
            pruned = prune_checkpoints(env, args.prune)
    found = list_checkpoints(env)
    current = env.fingerprint()
    if args.json:
        rows = [
            {
                "id": c.id,
                "parent": c.parent,
                "created_at": c.created_at,
                "fingerprint": c.fingerprint,
                "targets": c.targets,
                "changed": c.changed,
                "files": c.files,
                "size": c.size,
                "restored_at": c.restored_at,
                "current": c.fingerprint == current,
            }
            for c in found
        ]
        print_json({"env": str(env.root), "fingerprint": current, "checkpoints": rows, "pruned": pruned})
        return 0
    for ck_id in pruned:
        say(f"pruned {ck_id}")
    if not found:
        say(f"no checkpoints for {env.root}")
        return 0
    for c in found:
        marks = [
            m for m, on in (("restored", c.restored_at), ("= current state", c.fingerprint == current)) if on
        ]
        say(
            # the targets the checkpoint was taken for: tried, not necessarily installed (a culprit is not)
            f"{c.id}  {c.created_at[:19]}  {'before ' + ', '.join(c.targets) if c.targets else '-'}  "
            f"{c.files} files, {c.size // 1024} KiB{'  (' + '; '.join(marks) + ')' if marks else ''}"
        )
    return 0
