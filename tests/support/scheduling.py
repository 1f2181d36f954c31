"""How pytest-xdist hands the suite to its workers: test by test, each worker keeping to one module at a time.

A test is the unit of work, so every worker stays busy to the very end; but a worker asks first
for more tests of the module it is on, and starts a module no other worker is on, so a module's
module-scoped fixtures (a server, a Ray cluster) start once, not on every worker. Only when
nothing else is left does an idle worker take tests of another worker's module. A few modules
hold one ordered resource for all their tests and are handed out whole (KEPT_ON_ONE_WORKER).

xdist's own `--dist loadgroup` would keep those with `xdist_group` marks, but with pytest 9.2 and
pytest-xdist 3.8 it silently ignores them (xdist renames `item._nodeid`, which pytest no longer
reads), so the scheduling is ours.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

KEPT_ON_ONE_WORKER: frozenset[str] = frozenset(
    {
        # One Ray cluster for the module; its later tests depend on what the earlier ones did to it.
        "tests/serve_ray/test_ray_deployment.py",
    }
)


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class ModuleAffineScheduling(LoadScopeScheduling):
    """Each test is its own work unit (a whole module for KEPT_ON_ONE_WORKER); workers keep to their module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module_of_node: dict[Any, str] = {}

    def _split_scope(self, nodeid: str) -> str:
        module = module_of(nodeid)
        return module if module in KEPT_ON_ONE_WORKER else nodeid

    def _next_scope_for(self, node: Any) -> str:
        current = self._module_of_node.get(node)
        taken = {module for other, module in self._module_of_node.items() if other is not node}
        first_free = None
        for scope in self.workqueue:
            module = module_of(scope)
            if module == current:
                return scope
            if first_free is None and module not in taken:
                first_free = scope
        return first_free if first_free is not None else next(iter(self.workqueue))

    def _assign_work_unit(self, node: Any) -> None:
        scope = self._next_scope_for(node)
        work_unit = self.workqueue.pop(scope)
        self._module_of_node[node] = module_of(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some([collection.index(nodeid) for nodeid, completed in work_unit.items() if not completed])
