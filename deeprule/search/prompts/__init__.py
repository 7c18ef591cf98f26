"""The search's prompt templates, versioned files modeled on the paper's Appendix H.

`construction` asks for a first rule (Fig. 4), `reflection` for a changed rule from
the failing segments, the largest-gap rows, the previous reflection and similar
memories (Fig. 5), `restructure` for a new structure when tuned constants could not
bring the loss under ξ, `summary` for the phase summary (Fig. 6). The `_text` variants
ask for the rule as `def stock(row)` / `def price(row)` text instead of a JSON tree. Each file is
`[system]` then `[user]`, with `$name` placeholders (string.Template); a line left
empty by its placeholder is dropped. The scenario is described conceptually: what a
row, a rule and a loss are, never how the market behaves.

A template's name with its version (`reflection_v1`) is recorded with every
iteration; a changed prompt is a new file, so old runs stay explainable.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template

from deeprule.llm import Prompt

VERSIONS = {"construction": 1, "reflection": 1, "restructure": 1, "summary": 1,
            "construction_text": 1, "reflection_text": 1, "restructure_text": 1}
"""The template version each prompt kind is rendered from."""


def template_name(kind: str) -> str:
    """`kind_vN`: the file stem and what iterations record."""
    return f"{kind}_v{VERSIONS[kind]}"


@cache
def _sections(name: str) -> tuple[Template, Template]:
    text = files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    head, _, rest = text.partition("[system]\n")
    system, marker, user = rest.partition("[user]\n")
    if head.strip() or not marker:
        raise ValueError(f"prompt template {name}.txt: expected a [system] then a [user] section")
    return Template(system), Template(user)


def render(kind: str, **fields: str) -> Prompt:
    """The prompt of `kind` with every placeholder filled (KeyError names a missing one)."""
    system, user = _sections(template_name(kind))
    return Prompt(_fill(system, fields), _fill(user, fields))


def _fill(template: Template, fields: dict[str, str]) -> str:
    return "\n".join(line for line in template.substitute(fields).strip().split("\n") if line)
