"""Which object a LIBERO task's visual prompt points at, read from the task's BDDL goal.

The paper's Pixel-160K prompts mark the object the robot acts on (the one the gripper takes at the
first close). In LIBERO the BDDL goal names it; the rule, applied to ``goal_state`` in order:

1. The first goal predicate whose first argument is a movable object (an instance in the BDDL
   ``:objects``) gives the target: ``(On akita_black_bowl_1 plate_1)`` -> the bowl;
   ``(In alphabet_soup_1 basket_1_contain_region)`` -> the soup. So every libero_spatial and
   libero_object task marks the object to pick, and libero_10's two-object tasks mark the first
   one (e.g. "put the white mug on the left plate and ..." -> porcelain_mug_1).
2. Otherwise (only fixture predicates: ``(Open wooden_cabinet_1_middle_region)``,
   ``(TurnOn flat_stove_1)``) the fixture the first argument belongs to: a region or site name is
   mapped to the instance whose name is its longest prefix (``wooden_cabinet_1_middle_region`` ->
   ``wooden_cabinet_1``).

``obj_of_interest`` is not used for this: its order is not the instruction's (libero_10 task 4
lists the plates first). ``--target`` on the harness overrides the rule for one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import TaskError


@dataclass(frozen=True)
class Target:
    name: str  # the instance name in the scene, e.g. "akita_black_bowl_1"
    kind: str  # "object" (movable) or "fixture"
    predicate: str  # the goal predicate it came from, e.g. "on akita_black_bowl_1 plate_1"


def _instances(groups: Mapping[str, Sequence[str]] | None) -> list[str]:
    return [name for names in (groups or {}).values() for name in names]


def owner(name: str, instances: Sequence[str]) -> str | None:
    """The instance ``name`` is, or whose region/site it is (longest prefix + "_")."""
    if name in instances:
        return name
    owners = [i for i in instances if name.startswith(i + "_")]
    return max(owners, key=len) if owners else None


def target_from_problem(problem: Mapping[str, Any]) -> Target:
    """Apply the rule above to a parsed BDDL problem (LIBERO's ``robosuite_parse_problem``)."""
    goal = [list(p) for p in problem.get("goal_state") or []]
    objects = _instances(problem.get("objects"))
    fixtures = _instances(problem.get("fixtures"))
    if not goal:
        raise TaskError("the task's BDDL has no goal predicates", "no_target")
    for pred in goal:
        if len(pred) >= 2 and pred[1] in objects:
            return Target(pred[1], "object", " ".join(pred).lower())
    for pred in goal:
        if len(pred) < 2:
            continue
        found = owner(pred[1], objects + fixtures)
        if found is not None:
            return Target(found, "object" if found in objects else "fixture", " ".join(pred).lower())
    raise TaskError(f"no scene instance matches the goal {goal}", "no_target")


def suite_targets(suite: str) -> list[dict[str, Any]]:
    """Every task of ``suite`` with its instruction and target (LIBERO's side: parses the BDDL)."""
    import os

    from libero.libero import get_libero_path
    from libero.libero.envs.bddl_utils import robosuite_parse_problem

    from .env import suite_tasks

    tasks = suite_tasks(suite)
    out = []
    for i in range(tasks.n_tasks):
        task = tasks.get_task(i)
        problem = robosuite_parse_problem(
            os.path.join(get_libero_path("bddl_files"), task.problem_folder, task.bddl_file)
        )
        t = target_from_problem(problem)
        out.append(
            {
                "suite": suite,
                "task_id": i,
                "task": task.language,
                "target": t.name,
                "kind": t.kind,
                "predicate": t.predicate,
            }
        )
    return out


if __name__ == "__main__":  # python -m pixelvla_libero.targets [SUITE ...]: the mapping as JSON lines
    import json
    import sys

    from .protocol import SUITES

    for s in sys.argv[1:] or SUITES:
        for row in suite_targets(s):
            print(json.dumps(row))
