"""How pytest-xdist hands the suite to its workers: test by test, except modules that must stay on one worker.

Per-test distribution keeps both workers busy to the end (a module's tests are spread; its
module-scoped server starts at most once per worker). A few modules hold one expensive,
ordered resource for all their tests and are handed out whole.

xdist's own `--dist loadgroup` would do this with `xdist_group` marks, but with pytest 9.2
and pytest-xdist 3.8 it silently ignores them (xdist renames `item._nodeid`, which pytest
no longer reads), so the scheduling is ours.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

KEPT_ON_ONE_WORKER: frozenset[str] = frozenset(
    {
        # One Ray cluster for the module; its last test stops that deployment and starts its own.
        "tests/serve_ray/test_ray_deployment.py",
    }
)


class TestOrModuleScheduling(LoadScopeScheduling):
    """Each test is its own work unit, except the tests of a module in KEPT_ON_ONE_WORKER."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module in KEPT_ON_ONE_WORKER else nodeid
