"""The modules of ``campaigns`` import each other in one direction only.

The graph is read from the source with ``ast`` (function-level imports included), so a cycle hidden
inside a function is caught as well. The one allowed exception is documented: services enqueue
Celery tasks, and the tasks call services.
"""

import ast
from pathlib import Path

import campaigns

PACKAGE = "campaigns"
ROOT = Path(campaigns.__file__).parent

# services → tasks: a service enqueues a task by its function; the task module imports services back.
ALLOWED = {("campaigns.services", "campaigns.tasks")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in ROOT.rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    }


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's own modules that ``name`` imports, at any depth of its code."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            submodules = [f"{origin}.{alias.name}" for alias in node.names]
            targets = [m if m in modules else origin for m in submodules]  # `from . import x` names x, not "."
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target != PACKAGE:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {
        name: {target for target in imported_modules(name, path, modules) if (name, target) not in ALLOWED}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting, done = [], set()

    def visit(node):
        if node in visiting:
            return visiting[visiting.index(node) :] + [node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_campaigns_modules_import_without_a_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_graph_sees_the_imports_it_guards():
    graph = import_graph()
    assert "campaigns.lifecycle" in graph["campaigns.dispatch"]
    assert "campaigns.lifecycle" in graph["campaigns.imports"]  # imported at module level, downward
    assert graph["campaigns.lifecycle"] == {"campaigns.models", "campaigns.database"}
    assert "campaigns.tasks" not in graph["campaigns.services"]  # the one documented exception


def test_find_cycle_reports_a_cycle_hidden_in_a_function():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_receipts_modules_import_downward():
    graph = import_graph()
    assert "campaigns.receipts.reports" in graph["campaigns.receipts.events"]
    assert {"campaigns.receipts.events", "campaigns.receipts.reports"} <= graph["campaigns.receipts.pulls"]
    assert not {"campaigns.receipts.events", "campaigns.receipts.pulls"} & graph["campaigns.receipts.reports"]


def test_the_database_seam_sits_below_everything_but_the_models():
    graph = import_graph()
    seam = {name for name in graph if name.startswith("campaigns.database")}
    assert {"campaigns.database.bulk", "campaigns.database.single_receipt"} <= seam
    for name in seam:
        assert graph[name] <= seam | {"campaigns.models"}, name
