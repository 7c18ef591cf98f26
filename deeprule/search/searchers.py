"""One interface for every rule searcher, so the comparison runs each under the same budget.

A searcher takes the candidate rows, a `SearchRequest` (the evaluation budget N, a
seed, the fitness weights, the form the LLM writes rules in) and, when it uses one, an
LLM client or several sharing the run (search/writers.py: taken in turn, each iteration
naming its writer); it returns a `SearchResult` (every iteration recorded, the best rule
marked). N counts what costs: model requests for the reflection and direct-LLM searchers
(our re-asks and the client's retries included), distinct rules scored for the others
(the LLM-guided tree search also sends at most N model requests) — the paper's "N
iterations" in its Table 2. With a `checkpoint` in the request, each
searcher saves its state after every iteration under the request's key extended by its
own settings (and LLM), so a killed run resumes and a finished one costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from deeprule.search.checkpoint import Checkpoint
from deeprule.search.direct_llm import DirectConfig, direct
from deeprule.search.evolve import EvolveConfig, evolve
from deeprule.search.mcts import MCTSConfig, tree_search
from deeprule.search.objective import Candidates, FitnessConfig
from deeprule.search.prompts import VERSIONS
from deeprule.search.reflect import SearchConfig, SearchResult, search
from deeprule.search.rl import RLConfig, reinforce
from deeprule.search.writers import Writers, llm_identity, needs

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchRequest:
    budget: int = 10
    """N: LLM requests (reflection, direct LLM) or distinct rules scored (the others)."""
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()
    checkpoint: Checkpoint | None = None
    """Where the run's state is saved, keyed by what the rows and the caller fix (the
    searcher adds its settings); None = not saved."""
    rule_form: str = SearchConfig.rule_form
    """How the LLM writes a rule where it writes whole rules (reflection, direct LLM):
    `tree` (JSON) or `text` (`def stock(row)`). The tree search's LLM ranks tokens, never
    writes a rule, and the others use no LLM: they ignore it."""


@dataclass(frozen=True)
class Searcher:
    name: str
    uses_llm: bool
    run: Callable[[Candidates, SearchRequest, Writers | None, Progress], SearchResult]
    description: str


def _reflection(cand: Candidates, request: SearchRequest, client: Writers | None,
                progress: Progress) -> SearchResult:
    config = SearchConfig(iterations=request.budget, patience=request.budget,
                          seed=request.seed, rule_form=request.rule_form,
                          fitness=request.fitness)
    client = needs(client, "llm_reflection")
    checkpoint = request.checkpoint.within("llm_reflection", config, VERSIONS,
                                           *llm_identity(client)) if request.checkpoint else None
    return search(client, cand, config, progress=progress, checkpoint=checkpoint)


def _evolution(cand: Candidates, request: SearchRequest, client: Writers | None,
               progress: Progress) -> SearchResult:
    config = replace(EvolveConfig(), budget=request.budget, seed=request.seed,
                     fitness=request.fitness)
    return evolve(cand, config, progress=progress, checkpoint=request.checkpoint)


def _reinforcement(cand: Candidates, request: SearchRequest, client: Writers | None,
                   progress: Progress) -> SearchResult:
    config = replace(RLConfig(), budget=request.budget, seed=request.seed,
                     fitness=request.fitness)
    return reinforce(cand, config, progress=progress, checkpoint=request.checkpoint)


def _tree_search(cand: Candidates, request: SearchRequest, client: Writers | None,
                 progress: Progress) -> SearchResult:
    return tree_search(needs(client, "mcts"), cand, _mcts_config(request), progress=progress,
                       checkpoint=request.checkpoint)


def _tree_search_without_llm(cand: Candidates, request: SearchRequest,
                             client: Writers | None, progress: Progress) -> SearchResult:
    """The same tree search with no LLM request: every node keeps the kind-balanced prior
    and no value, so its gap to `mcts` is what the LLM's advice is worth."""
    return tree_search((), cand, _mcts_config(request, max_llm_calls=0), progress=progress,
                       checkpoint=request.checkpoint)


def _mcts_config(request: SearchRequest, **changes: object) -> MCTSConfig:
    return replace(MCTSConfig(), budget=request.budget, seed=request.seed,
                   fitness=request.fitness, **changes)


def _direct(cand: Candidates, request: SearchRequest, client: Writers | None,
            progress: Progress) -> SearchResult:
    config = replace(DirectConfig(), budget=request.budget, seed=request.seed,
                     rule_form=request.rule_form, fitness=request.fitness)
    return direct(needs(client, "direct_llm"), cand, config, progress=progress,
                  checkpoint=request.checkpoint)


SEARCHERS: dict[str, Searcher] = {s.name: s for s in (
    Searcher("llm_reflection", True, _reflection,
             "LLM reflection with memory, constants fitted each iteration (Section 3.3)"),
    Searcher("evolution", False, _evolution,
             "evolutionary symbolic regression, Appendix G settings (no LLM)"),
    Searcher("rl", False, _reinforcement,
             "DQN over rule tokens, Appendix G scaled to 2 cores, constants fitted (no LLM)"),
    Searcher("mcts", True, _tree_search,
             "PUCT over rule tokens, LLM priors and values per expansion (SR-GPT), constants "
             "fitted"),
    Searcher("mcts_no_llm", False, _tree_search_without_llm,
             "mcts with its LLM removed: kind-balanced priors, no values (the LLM ablation)"),
    Searcher("direct_llm", True, _direct,
             "the LLM's rules as written, no fitting, no memory: the optimizer ablation"),
)}
"""Every searcher by name; the comparison and the assets look them up here."""


def searcher(name: str) -> Searcher:
    """The searcher called `name`, or an error listing the known ones."""
    if name not in SEARCHERS:
        raise ValueError(f"unknown searcher {name!r}; known: {sorted(SEARCHERS)}")
    return SEARCHERS[name]
