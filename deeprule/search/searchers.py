"""One interface for every rule searcher, so the comparison runs each under the same budget.

A searcher takes the candidate rows, a `SearchRequest` (the evaluation budget N, a
seed, the fitness weights) and, when it uses one, an LLM client; it returns a
`SearchResult` (every iteration recorded, the best rule marked). N counts what costs:
LLM proposals for an LLM searcher, distinct rules scored for the others — the paper's
"N iterations" in its Table 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from deeprule.llm import LLMClient
from deeprule.search.evolve import EvolveConfig, evolve
from deeprule.search.objective import Candidates, FitnessConfig
from deeprule.search.reflect import SearchConfig, SearchResult, search

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchRequest:
    budget: int = 10
    """N: LLM proposals (LLM searchers) or distinct rules scored (the others)."""
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()


@dataclass(frozen=True)
class Searcher:
    name: str
    uses_llm: bool
    run: Callable[[Candidates, SearchRequest, LLMClient | None, Progress], SearchResult]
    description: str


def _reflection(cand: Candidates, request: SearchRequest, client: LLMClient | None,
                progress: Progress) -> SearchResult:
    config = SearchConfig(iterations=request.budget, patience=request.budget,
                          seed=request.seed, fitness=request.fitness)
    return search(_needs(client, "llm_reflection"), cand, config, progress=progress)


def _evolution(cand: Candidates, request: SearchRequest, client: LLMClient | None,
               progress: Progress) -> SearchResult:
    config = replace(EvolveConfig(), budget=request.budget, seed=request.seed,
                     fitness=request.fitness)
    return evolve(cand, config, progress=progress)


def _needs(client: LLMClient | None, name: str) -> LLMClient:
    if client is None:
        raise ValueError(f"searcher {name!r} writes rules with an LLM: pass a client")
    return client


SEARCHERS: dict[str, Searcher] = {s.name: s for s in (
    Searcher("llm_reflection", True, _reflection,
             "LLM reflection with memory, constants fitted each iteration (Section 3.3)"),
    Searcher("evolution", False, _evolution,
             "evolutionary symbolic regression, Appendix G settings (no LLM)"),
)}
"""Every searcher by name; the comparison and the assets look them up here."""


def searcher(name: str) -> Searcher:
    """The searcher called `name`, or an error listing the known ones."""
    if name not in SEARCHERS:
        raise ValueError(f"unknown searcher {name!r}; known: {sorted(SEARCHERS)}")
    return SEARCHERS[name]
