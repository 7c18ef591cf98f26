"""LLM-guided Monte Carlo tree search over rule tokens (SR-GPT, Appendix G).

The tree's nodes are partial rules (search/tokens.py: prefix tokens, first the stock
condition's left side, then the price). Each simulation walks down by PUCT,
`Q(s,a) + c · P(s,a) · sqrt(N(s)) / (1 + N(s,a))`, to a node not yet expanded. There
the LLM is asked once — one constrained call returning the (at most three) tokens it
would write next, best first, and a value in [0, 1], its estimate that finishing this
partial rule beats the expert rule. The ranked tokens become priors (weights 1, 1/2,
1/3, mixed with a share `prior_mix` of the kind-balanced prior: SR-GPT's exploration), and a random
rollout from the node (first token from those priors) finishes a rule, which is
scored. A child's Q mixes (`value_mix`, ½) the mean of the LLM's values below it (v maps
to 2v - 1) with the best reward of a rule scored below it (`relative_reward`, in [-1, 1];
the best, not the mean: the search wants one best rule); an untried token counts as the
expert rule's level, 0. Constants of a scored
rule are fitted (Powell), as in the RL searcher.

Bounded and cached LLM use: the LLM is sent at most `max_llm_calls` model requests
(default: the budget N; the client's retries of a malformed answer count), later
expansions use the kind-balanced prior and the rollout alone; every answer goes
through the LLM client's cache, keyed by the node's prompt, so re-running a search
costs no LLM call. Several clients may share the run (search/writers.py: request k
asks client k mod their count); each iteration names the backend/model whose priors
led to its rule. The LLM here only ranks tokens and guesses values, it never writes a
whole rule, so the rule form (`tree`/`text`) of the other LLM searchers does not apply.
The budget N counts distinct rules scored (program database): a simulation that ends
at an already scored rule reuses its reward for free.
Simulations are capped at `simulations_per_rule` x N so a converged tree stops. Each
iteration (a newly scored rule) records the model requests sent since the previous one.

With a `Checkpoint`, the tree (priors, visits, values, authors), the random stream, the
database, the LLM calls spent and the records are saved after every newly scored rule: a
killed run resumes there and ends where an uninterrupted one would, asking nothing twice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from deeprule.llm import Prompt
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.rules import parse_program
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.database import (
    Entry,
    ProgramDatabase,
    fitting_scorer,
    record,
    result_state,
    resumed_result,
    started_result,
)
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.reflect import EXPERT_RULE, OBJECTIVE, SAMPLES_PER_SEED, SearchResult
from deeprule.search.tokens import Grammar, Partial, relative_reward
from deeprule.search.writers import Writers, llm_identity, requests_sent, writer

ADVISED_TOKENS = 3
NO_LLM = "no LLM"
_TASK = (
    "You help build an interpretable assortment-and-pricing rule for a distributor, one token "
    "at a time. Each row is one customer and one SKU. The rule is `stock` (stock the SKU if "
    "h > c, c a fitted number) and `price` (the unit price to offer). Both h and the price "
    "are written in prefix (Polish) notation: an operator (+ - * /) is followed by its two "
    "operands; a feature name reads that column; `number` is a constant fitted afterwards. "
    "Answer with the JSON record only."
)


@dataclass(frozen=True)
class MCTSConfig:
    budget: int = 50
    """N: distinct rules scored (the expert rule included)."""
    max_llm_calls: int | None = None
    """Model requests the expansions may send (None = the budget N)."""
    simulations_per_rule: int = 20
    c_puct: float = 1.0
    prior_mix: float = 0.25
    """Uniform share mixed into the LLM's priors."""
    value_mix: float = 0.5
    """Weight of the LLM's values against the best reward found, in Q."""
    max_stock_tokens: int = Grammar.max_stock_tokens
    max_price_tokens: int = Grammar.max_price_tokens
    fit_evaluations: int = 60
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()


@cache
def advice_schema(legal: tuple[str, ...]) -> type[BaseModel]:
    """The LLM's answer at a node: up to three legal next tokens (best first) and a value.
    Every token is an enum value, so a grammar-constrained backend can only name legal ones."""
    return create_model(
        "TokenAdvice", __config__=ConfigDict(extra="forbid"),
        next_tokens=(Annotated[list[Literal[legal]],  # type: ignore[valid-type]
                               Field(min_length=1, max_length=ADVISED_TOKENS)], ...),
        promise=(Annotated[float, Field(ge=0.0, le=1.0)], ...))


def advice_prompt(state: Partial, expert: str) -> Prompt:
    """The fixed part (task, features, goal, expert rule) first, the node last."""
    guide = "\n".join(f"- {name}: {meaning}" for name, meaning in RULE_FEATURES.items())
    system = (f"{_TASK}\nGoal: {OBJECTIVE}\nFeatures:\n{guide}\nThe expert rule to beat:\n"
              f"{expert.strip()}")
    phase = "the stock condition's h" if state.phase == 0 else "the price"
    user = (f"Partial rule so far: {state.describe()}\nNow writing {phase}; "
            f"{state.open_slots()} operand(s) still missing.\nAllowed next tokens: "
            f"{', '.join(state.legal())}\nGive up to {ADVISED_TOKENS} next tokens, best first, "
            "and promise: from 0 to 1, how likely finishing this partial rule beats the "
            "expert rule.")
    return Prompt(system, user)


@dataclass
class _Node:
    state: Partial
    prior: dict[str, float] = field(default_factory=dict)
    children: dict[str, _Node] = field(default_factory=dict)
    visits: int = 0
    best_reward: float = -1.0
    """The best reward of a rule scored below: the search wants one best rule, so a subtree
    is as good as the best rule found in it, not as its average."""
    llm_values: list[float] = field(default_factory=list)
    """The LLM's values of the nodes expanded below (averaged: one optimistic guess must
    not pin the search to a subtree, as a maximum would)."""
    author: tuple[str, str] | None = None
    """(backend, model) of the LLM that set this node's priors; None: kind-balanced."""

    def q(self, value_mix: float) -> float:
        if not self.llm_values:
            return self.best_reward
        llm = sum(self.llm_values) / len(self.llm_values)
        return value_mix * llm + (1 - value_mix) * self.best_reward

    @property
    def llm(self) -> tuple[str, str]:
        """(backend, model) that set the priors; ("", "") for kind-balanced ones."""
        return self.author or ("", "")

    @property
    def author_text(self) -> str:
        """Who set the priors, for the program database: `backend/model` or `no LLM`."""
        return "/".join(self.author) if self.author else NO_LLM

    @property
    def expanded(self) -> bool:
        return bool(self.prior)

    def snapshot(self) -> dict:
        """The node's statistics and its subtree, as JSON (the partial rule is the path)."""
        return {"prior": self.prior, "visits": self.visits, "best_reward": self.best_reward,
                "llm_values": self.llm_values, "author": self.author,
                "children": {t: c.snapshot() for t, c in self.children.items()}}

    @classmethod
    def restored(cls, state: dict, partial: Partial) -> _Node:
        return cls(partial, state["prior"],
                   {t: cls.restored(c, partial.then(t)) for t, c in state["children"].items()},
                   state["visits"], state["best_reward"], state["llm_values"],
                   _saved_author(state["author"]))


def _saved_author(saved: list[str] | str | None) -> tuple[str, str] | None:
    """A node's author as a checkpoint holds it: [backend, model] or null, or, in
    checkpoints written before the author was structured, the text `backend/model` or
    `no LLM` (a backend's name has no "/"), so those still resume."""
    if isinstance(saved, str):
        saved = None if saved == NO_LLM else saved.split("/", 1)
    return None if saved is None else (saved[0], saved[1])


class _Search:
    """One tree, its program database and the LLM calls it may still make."""

    def __init__(self, clients: Writers, cand: Candidates, config: MCTSConfig,
                 start: str) -> None:
        self.clients, self.config, self.cand = clients, config, cand
        self.rng = np.random.default_rng(config.seed)
        self.grammar = Grammar(tuple(RULE_FEATURES), config.max_stock_tokens,
                               config.max_price_tokens)
        self.db = ProgramDatabase(fitting_scorer(cand, config.fitness, config.fit_evaluations),
                                  config.budget, seed=config.seed)
        self.start = start
        self.max_calls = config.budget if config.max_llm_calls is None else config.max_llm_calls
        self.calls = 0
        """Model requests sent so far (retries included)."""
        self.recorded_calls = 0
        """LLM calls already counted by a recorded iteration."""
        self.tokens = [0, 0]
        self.root = _Node(Partial(self.grammar))

    @property
    def expert(self) -> Entry:
        """The first rule scored: the start (expert) rule."""
        return next(iter(self.db.entries.values()))

    def select(self, node: _Node) -> str:
        root_visits = math.sqrt(max(node.visits, 1))

        def score(token: str) -> float:
            child = node.children.get(token)
            visits, q = ((child.visits, child.q(self.config.value_mix))
                         if child and child.visits else (0, 0.0))
            return q + self.config.c_puct * node.prior[token] * root_visits / (1 + visits)

        return max(node.state.legal(), key=score)  # ties: the first legal token

    def expand(self, node: _Node) -> float | None:
        """Set the node's priors; the LLM's value (in [-1, 1]) when it was asked."""
        legal = node.state.legal()
        balanced = node.state.balanced()
        node.prior = balanced
        if self.calls >= self.max_calls:
            return None
        sent = requests_sent(self.clients)
        try:
            answer = writer(self.clients, self.calls + 1).generate(
                advice_prompt(node.state, self.expert.text), advice_schema(legal),
                self.config.seed * SAMPLES_PER_SEED, self.max_calls - self.calls)
        except BudgetExhausted:
            self.max_calls = 0  # no token left: no further request
            return None
        except LLMCallFailed as err:
            self.tokens[0] += err.record.prompt_tokens
            self.tokens[1] += err.record.completion_tokens
            return None
        finally:  # whatever came of it, the requests it sent are spent
            self.calls += requests_sent(self.clients) - sent
        self.tokens[0] += answer.record.prompt_tokens
        self.tokens[1] += answer.record.completion_tokens
        ranked = list(dict.fromkeys(answer.value.next_tokens))
        weights = {t: 1.0 / (rank + 1) for rank, t in enumerate(ranked)}
        total, mix = sum(weights.values()), self.config.prior_mix
        node.prior = {t: (1 - mix) * weights.get(t, 0.0) / total + mix * balanced[t]
                      for t in legal}
        node.author = (answer.record.backend, answer.record.model)
        return 2.0 * answer.value.promise - 1.0

    def rollout(self, node: _Node) -> Partial:
        """A finished rule from the node: the first token by its priors, then kind-balanced
        random tokens (`Partial.random_token`)."""
        state = node.state
        if not state.done:
            tokens = list(node.prior)
            p = np.array([node.prior[t] for t in tokens])
            state = state.then(tokens[int(self.rng.choice(len(tokens), p=p / p.sum()))])
        while not state.done:
            state = state.then(state.random_token(self.rng))
        return state

    def simulate(self) -> tuple[Entry | None, _Node, bool]:
        """One simulation: (the rule it scored if new, the node whose priors led to it,
        whether to go on)."""
        path = [self.root]
        node = self.root
        while node.expanded and not node.state.done:
            token = self.select(node)
            node = node.children.setdefault(token, _Node(node.state.then(token)))
            path.append(node)
        llm_value = None if node.state.done else self.expand(node)
        finished = self.rollout(node)
        program = finished.program()
        new = not self.db.knows(program)
        entry = self.db.add(program, author=f"mcts, priors by {node.author_text}")
        if entry is None:
            return None, node, False
        reward = relative_reward(entry.fitness, self.expert.fitness)
        for visited in path:
            visited.visits += 1
            visited.best_reward = max(visited.best_reward, reward)
            if llm_value is not None:
                visited.llm_values.append(llm_value)
        return entry if new else None, node, True

    def run(self, progress: Callable[[str], None], started: float,
            checkpoint: Checkpoint | None) -> SearchResult:
        saved = checkpoint.load() if checkpoint else None
        if saved:
            result, first, finished = self.restore(saved), saved["simulation"] + 1, \
                saved["finished"]
            progress(f"resumed after simulation {saved['simulation']}")
        else:
            self.db.add(parse_program(self.start, RULE_FEATURES), author="expert")
            result = started_result(self.expert, time.perf_counter() - started)
            first, finished = 1, False
        began = time.perf_counter()
        last = self.config.simulations_per_rule * self.config.budget
        for simulation in range(first, 0 if finished else last + 1):
            entry, guided, go_on = self.simulate()
            if not go_on:
                break
            if entry is not None:
                step = record(result, entry, "kept",
                              f"simulation {simulation}: {entry.summary()}, "
                              f"{self.db.spent}/{self.db.budget} rules scored, "
                              f"{self.calls} LLM calls",
                              time.perf_counter() - began, (self.tokens[0], self.tokens[1]),
                              self.calls - self.recorded_calls, guided.llm)
                self.tokens, self.recorded_calls = [0, 0], self.calls
                self.save(checkpoint, result, simulation, False)
                began = time.perf_counter()
                progress(f"rule {self.db.spent}: {step.status}, best Φ {step.fitness:.2f}")
        if not finished:
            self.save(checkpoint, result, last, True)  # a rerun returns at once
        return result

    def save(self, checkpoint: Checkpoint | None, result: SearchResult, simulation: int,
             finished: bool) -> None:
        if checkpoint:
            checkpoint.save({**result_state(result), "database": self.db.state(),
                             "tree": self.root.snapshot(), "rng": self.rng.bit_generator.state,
                             "calls": self.calls, "max_calls": self.max_calls,
                             "simulation": simulation, "finished": finished})

    def restore(self, saved: dict) -> SearchResult:
        """The search as saved after a recorded iteration (no LLM call, no new scoring)."""
        c = self.config
        self.db = ProgramDatabase.restored(saved["database"], self.cand, c.fitness,
                                           self.db.scorer, c.budget, seed=c.seed)
        self.root = _Node.restored(saved["tree"], Partial(self.grammar))
        self.rng.bit_generator.state = saved["rng"]
        self.calls = self.recorded_calls = saved["calls"]
        self.max_calls = saved["max_calls"]
        return resumed_result(saved, self.cand, c.fitness)


def tree_search(client: Writers, cand: Candidates, config: MCTSConfig = MCTSConfig(),
                start: str = EXPERT_RULE, progress: Callable[[str], None] = lambda _: None,
                checkpoint: Checkpoint | None = None) -> SearchResult:
    """Search until `config.budget` distinct rules were scored (or the simulation cap); one
    iteration per newly scored rule, each carrying the best rule so far; the LLM `client`
    (or several in turn) advises the expansions. `checkpoint`: resume the run saved there
    under the same settings and LLMs, save as it goes."""
    started = time.perf_counter()
    checkpoint = checkpoint.within("mcts", config, start, *llm_identity(client)) \
        if checkpoint else None
    return _Search(client, cand, config, start).run(progress, started, checkpoint)
