"""Embedded models: assembly from part packages (fakes), pins enforced, per-task choice."""

import dataclasses
import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from deeprule.llm import LLMConfigError, ModelPackageMissing, Prompt
from deeprule.llm.factory import (
    TASKS,
    LLMSettings,
    TaskModels,
    TaskTimeouts,
    make_backend,
    make_client,
)
from deeprule.llm.local import LocalBackend, format_prompt, prepare_runtime
from deeprule.llm.models import (
    GEMMA,
    QWEN_CODER,
    LocalModel,
    ModelFileCorrupt,
    assemble_parts,
    local_model,
    model_file,
    part_files,
)
from deeprule.llm.testing import ScriptedBackend
from resources.llm import LLMResource

PARTS = [b"A" * 1000, b"B" * 1000, b"C" * 377]


def fake_packages(root: Path, contents: list[bytes]) -> tuple[LocalModel, dict]:
    """Part packages `fake-part1..n` laid out like the real wheels (pkg/data/partNN.bin)."""
    specs = {}
    for i, data in enumerate(contents, start=1):
        pkg = root / f"fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        specs[f"fake_part{i}"] = SimpleNamespace(submodule_search_locations=[str(pkg)])
    whole = b"".join(PARTS)
    model = LocalModel("fake", "fake.gguf", "chatml",
                       tuple(f"fake-part{i}" for i in range(1, len(contents) + 1)),
                       size=len(whole), sha256=hashlib.sha256(whole).hexdigest())
    return model, specs


def test_parts_are_concatenated_in_package_order(tmp_path: Path) -> None:
    model, specs = fake_packages(tmp_path / "site", PARTS)
    files = part_files(model.packages, specs.get)
    target = assemble_parts(model, files, tmp_path / "models" / model.file_name)
    assert target.read_bytes() == b"".join(PARTS)
    assert list(target.parent.iterdir()) == [target]  # no partial file left behind


def test_swapped_parts_fail_the_checksum_and_leave_no_file(tmp_path: Path) -> None:
    model, specs = fake_packages(tmp_path / "site", [PARTS[1], PARTS[0], PARTS[2]])
    target = tmp_path / "models" / model.file_name
    with pytest.raises(ModelFileCorrupt, match="sha256"):
        assemble_parts(model, part_files(model.packages, specs.get), target)
    assert not target.exists() and not list(target.parent.iterdir())


def test_a_short_part_is_refused_naming_its_package(tmp_path: Path) -> None:
    model, specs = fake_packages(tmp_path / "site", [PARTS[0], PARTS[1][:-10], PARTS[2]])
    with pytest.raises(ModelFileCorrupt, match="reinstall fake-part2"):
        assemble_parts(model, part_files(model.packages, specs.get), tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists()


def test_a_missing_part_package_is_named(tmp_path: Path) -> None:
    model, specs = fake_packages(tmp_path / "site", PARTS)
    del specs["fake_part3"]
    with pytest.raises(ModelPackageMissing, match="fake-part3 is not installed"):
        part_files(model.packages, specs.get)


def test_an_assembled_file_is_reused(tmp_path: Path) -> None:
    done = tmp_path / QWEN_CODER.file_name
    done.write_bytes(b"verified earlier")
    assert model_file(QWEN_CODER, tmp_path) == done  # no part package touched


def test_the_installed_qwen_parts_are_found_in_order() -> None:
    files = part_files(QWEN_CODER.packages)
    assert [f.name for f in files] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert sum(f.stat().st_size for f in files) == QWEN_CODER.size


def test_each_model_gets_its_own_prompt_template() -> None:
    prompt = Prompt("Rules.", "Document.")
    gemma, qwen = format_prompt(prompt, GEMMA.chat_format), format_prompt(prompt, "chatml")
    assert gemma.startswith("<start_of_turn>user\nRules.") and gemma.endswith("model\n")
    assert qwen.startswith("<|im_start|>system\nRules.<|im_end|>")
    assert qwen.endswith("<|im_start|>assistant\n") and "<start_of_turn>" not in qwen


def test_openmp_waits_passively_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    prepare_runtime()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    prepare_runtime()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_each_task_runs_on_its_configured_model(tmp_path: Path) -> None:
    settings = LLMSettings(model_dir=str(tmp_path),
                           models=TaskModels(extraction="qwen-coder-1.5b",
                                             data_quality="gemma-3-270m"))
    rules = make_backend(settings, "rule_proposal")
    extraction = make_backend(settings, "extraction")
    quality = make_backend(settings, "data_quality")
    assert isinstance(rules, LocalBackend) and rules.spec is QWEN_CODER
    assert extraction.model == rules.model != quality.model
    assert quality.spec is GEMMA and quality.max_tokens < rules.max_tokens
    assert rules.settings != quality.settings  # the template is part of the cache key


def test_openai_for_every_task_or_for_one(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    everything = LLMSettings(backend="openai", model="m", model_dir=str(tmp_path))
    assert {make_backend(everything, t).name for t in TaskModels.__dataclass_fields__} == {
        "openai"}
    one = LLMSettings(model="m", model_dir=str(tmp_path),
                      models=TaskModels(data_quality="openai"))
    assert make_backend(one, "data_quality").name == "openai"
    assert make_backend(one, "extraction").name == "local"


def test_unknown_task_model_or_backend_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LLMConfigError, match="unknown LLM task 'summaries'"):
        make_backend(LLMSettings(), "summaries")
    with pytest.raises(ModelPackageMissing, match="qwen-coder-1.5b"):
        local_model("qwen-7b")
    with pytest.raises(LLMConfigError, match="unknown LLM backend"):
        make_backend(LLMSettings(backend="vllm"), "extraction")


def test_resource_exposes_the_task_models_from_config_and_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert LLMResource().settings().models == TaskModels()
    monkeypatch.setenv("DEEPRULE_LLM_RULE_MODEL", "gemma-3-270m")
    monkeypatch.setenv("DEEPRULE_LLM_EXTRACTION_MODEL", "qwen-coder-1.5b")
    models = LLMResource.from_env().settings().models
    assert (models.rule_proposal, models.extraction) == ("gemma-3-270m", "qwen-coder-1.5b")
    assert models.data_quality == TaskModels.data_quality


class TimeoutRecorder(ScriptedBackend):
    """A scripted backend that notes the per-attempt timeout each call was given."""

    def __init__(self) -> None:
        super().__init__(responder=lambda prompt, schema: '{"x": 1}')
        self.timeouts: list[float] = []

    def generate(self, prompt, schema, timeout_s, attempt=0):
        self.timeouts.append(timeout_s)
        return super().generate(prompt, schema, timeout_s, attempt)


class Answer(BaseModel):
    x: int


def timeout_used(resource: LLMResource, task: str) -> float:
    backend = TimeoutRecorder()
    settings = dataclasses.replace(resource.settings(), cache_path="")  # no cache hits
    with make_client(settings, task, backend) as client:
        client.generate(Prompt("s", task), Answer)
    return backend.timeouts[0]


def test_each_task_runs_under_its_own_timeout() -> None:
    defaults = LLMResource()
    used = {task: timeout_used(defaults, task) for task in TASKS}
    assert used == {task: TaskTimeouts().for_task(task) for task in TASKS}
    # a busy Qwen rule proposal took 167 s (docs/llm.md): the rule task must outlast it
    assert used["rule_proposal"] > 2 * 167 > used["extraction"]


def test_task_timeouts_come_from_config_and_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert timeout_used(LLMResource(rule_timeout_s=900.0), "rule_proposal") == 900.0
    monkeypatch.setenv("DEEPRULE_LLM_EXTRACTION_TIMEOUT_S", "12.5")
    from_env = LLMResource.from_env()
    assert timeout_used(from_env, "extraction") == 12.5
    assert timeout_used(from_env, "rule_proposal") == TaskTimeouts.rule_proposal
    monkeypatch.setenv("DEEPRULE_LLM_TIMEOUT_S", "30")  # one value for every task
    every = LLMResource.from_env()
    assert {timeout_used(every, task) for task in TASKS} == {30.0}
    with pytest.raises(LLMConfigError, match="unknown LLM task"):
        TaskTimeouts().for_task("summaries")


def test_several_rule_models_get_one_client_each_sharing_the_budget(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    resource = LLMResource(rule_model="qwen-coder-1.5b, openai", model="m",
                           model_dir=str(tmp_path), cache_path=str(tmp_path / "c.duckdb"))
    assert resource.settings().models_for("rule_proposal") == ("qwen-coder-1.5b", "openai")
    clients = resource.clients("rule_proposal")
    assert [(c.backend.name, c.backend.model) for c in clients] == [
        ("local", Path(QWEN_CODER.file_name).stem), ("openai", "m")]
    assert clients[0].usage is clients[1].usage
    assert clients[0].token_budget == clients[1].token_budget > 0
    assert len(LLMResource(model_dir=str(tmp_path)).clients("extraction")) == 1
    with pytest.raises(LLMConfigError, match="no model configured"):
        LLMSettings(models=TaskModels(rule_proposal=" , ")).models_for("rule_proposal")
