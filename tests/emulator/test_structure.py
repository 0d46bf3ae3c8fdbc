"""The emulator's module structure: no import circle among snowflake_emulator's modules.

The graph is read from the source (every `import` / `from` statement, those inside functions
included: a lazy import that works around a circle is still one), so it needs no import of the
package and sees what Python would load.
"""

import ast
import os

PACKAGE = "snowflake_emulator"
HERE = os.path.dirname(os.path.abspath(__file__))


def import_graph(package_dir, package=PACKAGE):
    """{module: {modules it imports}} for the .py files directly in package_dir, edges only
    between them. `from . import x` is an edge to module x when x is a file, else to __init__."""
    modules = {name[:-3] for name in os.listdir(package_dir) if name.endswith(".py")}
    graph = {}
    for module in sorted(modules):
        with open(os.path.join(package_dir, module + ".py"), encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=module + ".py")
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    head, _, rest = alias.name.partition(".")
                    if head == package:
                        edges.add(rest.split(".")[0] if rest else "__init__")
            elif isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    target = node.module
                elif node.level == 0 and node.module and node.module.split(".")[0] == package:
                    target = node.module.partition(".")[2] or None
                else:
                    continue  # the standard library, third parties, or a parent package
                if target:
                    edges.add(target.split(".")[0])
                else:
                    edges.update(a.name if a.name in modules else "__init__" for a in node.names)
        graph[module] = edges & modules - {module}
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_no_import_cycle_among_emulator_modules():
    graph = import_graph(os.path.join(HERE, PACKAGE))
    assert "engine" in graph and graph["engine"], "the graph was not read"
    assert cycles(graph) == [], f"import cycles among {PACKAGE} modules: {cycles(graph)}"


def test_the_check_finds_lazy_and_absolute_cycles(tmp_path):
    # The circle the emulator had (engine -> tasks at the top, tasks -> engine inside a function),
    # one through absolute imports, and imports that only look like the package's.
    files = {
        "__init__.py": "from .engine import Engine\n",
        "engine.py": "import os\nfrom . import errors\nfrom .tasks import Tasks\n",
        "tasks.py": "import errors\n\ndef run():\n    from .engine import ExecContext\n",
        "errors.py": "import duckdb\n",
        "a.py": "import snowflake_emulator.b as b\n",
        "b.py": "from snowflake_emulator import a\n",
        "c.py": "from .. import a\nfrom os import path\nfrom . import VERSION\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    graph = import_graph(str(tmp_path))
    assert graph == {"__init__": {"engine"}, "engine": {"errors", "tasks"}, "tasks": {"engine"}, "errors": set(),
                     "a": {"b"}, "b": {"a"}, "c": {"__init__"}}
    assert cycles(graph) == [["a", "b"], ["engine", "tasks"]]
