"""The house rules, read from the code itself (imports and names), not from declared deps.

- Truth firewall: only the simulator itself (`deeprule/synth/`), the evaluation
  library (`deeprule/evaluate/`), the `world` resource that hands the generator
  out, and the `evaluation` / `simulator` asset modules may import the synthetic
  world, call its truth, or name a `simulator` table (in Python or in SQL files).
  `deeprule.synth.spec` (preset, months: no truth) is open to all.
- The baselines (`deeprule/baselines/`) are learners like DeepRule: besides the firewall
  above, they never import the evaluation library (which holds the world); online ones
  meet the market only through the `Market` protocol the evaluation layer implements.
- Layers: `deeprule/` never imports dagster, `assets`, `resources` or `pipelines`;
  `assets/` never imports `pipelines`.
- The domain tests (those importing none of those) collect without dagster installed.
- `deeprule/` reads no environment variable: settings arrive as arguments (resources
  read the environment, resources/settings.py). The one exception is the OpenAI API key,
  which by the house security rule only ever comes from the environment.

Tests and benchmarks are outside the product: they may compare with the truth.
"""

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("deeprule", "assets", "resources", "pipelines")
TRUTH_ALLOWED = ("deeprule/synth/", "deeprule/evaluate/", "resources/world.py",
                 "assets/evaluation.py", "assets/simulator.py")
OPEN_SYNTH_MODULES = {"deeprule.synth.spec"}
TRUTH_CALLS = {"expected_units", "true_elasticity", "true_customer_traits", "true_sku_params",
               "document_facts", "policy_locks", "expected_units_matrix"}
"""The World methods that answer with the hidden truth."""
ORCHESTRATION = ("dagster", "dagster_duckdb", "dagster_duckdb_polars", "dagster_webserver",
                 "assets", "resources", "pipelines")


def _modules(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _imports(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(module, name) of every import; name is '' for `import module`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from ((node.module, alias.name) for alias in node.names)


def _top(module: str) -> str:
    return module.split(".")[0]


def _strings(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _truth_tables() -> set[str]:
    """The `simulator` group's tables, as assets/simulator.py declares them."""
    tree = ast.parse((ROOT / "assets" / "simulator.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "TRUTH_TABLES" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError("assets/simulator.py declares no TRUTH_TABLES")


def _reaches_truth(path: str, tree: ast.Module, tables: re.Pattern[str]) -> list[str]:
    found = [f"imports {module}.{name}".rstrip(".") for module, name in _imports(tree)
             if (module == "deeprule.synth" or module.startswith("deeprule.synth."))
             and module not in OPEN_SYNTH_MODULES
             and f"{module}.{name}" not in OPEN_SYNTH_MODULES]
    found += [f"calls .{node.attr}()" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and node.attr in TRUTH_CALLS]
    found += [f"names {m.group(0)!r}" for text in _strings(tree) for m in tables.finditer(text)]
    return found


def test_only_evaluation_and_simulator_code_can_reach_the_truth() -> None:
    tables = re.compile(r"\b(" + "|".join(sorted(_truth_tables())) + r")\b")
    breaches = {path: found for path, tree in _modules(*PRODUCT)
                if not path.startswith(TRUTH_ALLOWED)
                and (found := _reaches_truth(path, tree, tables))}
    breaches |= {path.relative_to(ROOT).as_posix(): tables.findall(path.read_text())
                 for folder in PRODUCT for path in sorted((ROOT / folder).rglob("*.sql"))
                 if tables.search(path.read_text())}
    assert not breaches, f"code outside evaluation reaches the simulator's truth: {breaches}"


def _evaluation_imports(tree: ast.Module) -> list[str]:
    return sorted({m for m, _ in _imports(tree)
                   if m == "deeprule.evaluate" or m.startswith("deeprule.evaluate.")})


def test_baselines_never_import_the_evaluation_library() -> None:
    modules = dict(_modules("deeprule/baselines"))
    assert len(modules) >= 5, sorted(modules)
    offenders = {path: found for path, tree in modules.items()
                 if (found := _evaluation_imports(tree))}
    assert not offenders, f"a baseline reaches the evaluation library: {offenders}"
    sneaky = ast.parse("from deeprule.evaluate.realized import realize\n")
    assert _evaluation_imports(sneaky) == ["deeprule.evaluate.realized"]


def test_the_firewall_test_sees_a_breach() -> None:
    """A learner-shaped module that reads a truth table through SQL is caught."""
    tables = re.compile(r"\b(true_sku_params)\b")
    sneaky = ast.parse('import duckdb\nfrom deeprule.synth import World\n'
                       'rows = duckdb.sql("SELECT * FROM main.true_sku_params")\n'
                       'units = world.expected_units([], [], [], [])\n')
    assert _reaches_truth("deeprule/search/sneaky.py", sneaky, tables) == [
        "imports deeprule.synth.World", "calls .expected_units()", "names 'true_sku_params'"]


def test_deeprule_is_free_of_orchestration_and_assets_of_pipelines() -> None:
    offenders = {path: sorted({m for m, _ in _imports(tree) if _top(m) in ORCHESTRATION})
                 for path, tree in _modules("deeprule")}
    offenders |= {path: sorted({m for m, _ in _imports(tree) if _top(m) == "pipelines"})
                  for path, tree in _modules("assets")}
    offenders = {path: found for path, found in offenders.items() if found}
    assert not offenders, f"imports across layers: {offenders}"


def _domain_test_files() -> list[str]:
    """Test modules (and helpers) that import neither dagster nor the orchestration layers."""
    out = []
    for path, tree in _modules("tests"):
        tops = {_top(m) for m, _ in _imports(tree)}
        local = {m for m, _ in _imports(tree) if m.startswith("tests.")}
        if tops & set(ORCHESTRATION) or any(_uses_orchestration(m) for m in local):
            continue
        if Path(path).name.startswith("test_"):
            out.append(path)
    return out


def _uses_orchestration(module: str) -> bool:
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.is_file():
        return False
    return any(_top(m) in ORCHESTRATION for m, _ in _imports(ast.parse(path.read_text())))


def test_domain_tests_collect_without_dagster() -> None:
    """Import blocked for dagster, the domain tests (and every conftest) still collect."""
    files = _domain_test_files()
    assert len(files) > 20, files
    blocker = ("import sys\n"
               "for name in ('dagster', 'dagster_duckdb', 'dagster_duckdb_polars'):\n"
               "    sys.modules[name] = None\n"
               "import pytest\n"
               f"sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', "
               f"*{files!r}]))\n")
    result = subprocess.run([sys.executable, "-c", blocker], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


ENV_READ_ALLOWED = {"deeprule/llm/openai_backend.py"}  # OPENAI_API_KEY, never a config value


def _environment_reads(tree: ast.Module) -> Iterator[int]:
    """Lines that read os.environ (get, [], in) or call os.getenv; setdefault writes are not."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            yield node.lineno
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            yield from _environ_use(tree, node)


def _environ_use(tree: ast.Module, environ: ast.Attribute) -> Iterator[int]:
    for parent in ast.walk(tree):
        method = isinstance(parent, ast.Attribute) and parent.value is environ
        subscript = isinstance(parent, ast.Subscript) and parent.value is environ
        membership = isinstance(parent, ast.Compare) and environ in parent.comparators
        if (method and parent.attr != "setdefault") or subscript or membership:
            yield parent.lineno


def test_the_domain_library_reads_no_environment() -> None:
    readers = {f"{path}:{line}" for path, tree in _modules("deeprule")
               if path not in ENV_READ_ALLOWED for line in _environment_reads(tree)}
    assert not readers, f"environment read in deeprule/ (pass it as an argument): {readers}"
