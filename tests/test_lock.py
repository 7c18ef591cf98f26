"""requirements.lock was resolved from today's pyproject.toml dependencies: a fresh machine
installs what the tests ran on."""

import shutil
from pathlib import Path

from pipelines.lock_stamp import ROOT, inputs_digest, recorded_digest, stamp


def test_the_lock_is_stamped_with_the_dependencies_it_was_resolved_from() -> None:
    assert recorded_digest(ROOT / "requirements.lock") == inputs_digest(), (
        "pyproject.toml's dependencies or lock-constraints.txt changed since requirements.lock "
        "was resolved: run `make lock`, review the diff, commit both")


def test_a_dependency_change_changes_the_digest_and_stamping_replaces_the_line(
        tmp_path: Path) -> None:
    for name in ("pyproject.toml", "lock-constraints.txt", "requirements.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    before = inputs_digest(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.setuptools.package-data]",
                                                       "[tool.setuptools.package-data]\n"
                                                       '"x" = ["*.md"]'))
    assert inputs_digest(tmp_path) == before  # package data is not a resolver input
    pyproject.write_text(pyproject.read_text().replace("dependencies = [",
                                                       'dependencies = [\n    "six",', 1))
    assert inputs_digest(tmp_path) != before
    lock = tmp_path / "requirements.lock"
    stamp(lock, tmp_path)
    stamp(lock, tmp_path)
    assert recorded_digest(lock) == inputs_digest(tmp_path)
    assert lock.read_text().count("# resolved from") == 1
