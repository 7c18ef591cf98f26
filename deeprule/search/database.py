"""A program database: every rule a search scored, by canonical form, spread over islands.

The lesson of the program-search systems (FunSearch, OpenEvolve, ShinkaEvolve): keep
a population of scored programs rather than a single best, sample parents from it,
keep islands apart so one lineage does not take over, and never pay twice for the
same program. Here a program's key is its canonical text as proposed
(`render_program` of the parsed rule, before constants are fitted), so a proposal
that only differs in layout, names or spacing from one already scored costs no budget:
`add` returns the stored entry. Each entry records who wrote it (`author`: the LLM
backend/model of the call, or the searcher's name) and the parent it came from.

How a searcher uses it (reflect.py can adopt it the same way):

    db = ProgramDatabase(scorer=fitting_scorer(cand, fitness, 150), budget=N, islands=3)
    expert = db.add(parse_program(EXPERT_RULE, RULE_FEATURES), author="expert")
    parent = db.sample_parent(island)           # a prompt's "current rule"
    shown = db.top(3, island)                   # inspirations for the same prompt
    if not db.knows(program):                   # before spending an LLM retry on it
        entry = db.add(program, author=f"{record.backend}/{record.model}",
                       parent=parent.key, island=island)   # None once the budget is spent
    db.migrate()                                # every few iterations
    checkpoint.save({"database": db.state(), ...});  db = ProgramDatabase.restored(...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from deeprule.rules import Program, decide, parse_program, render_program
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig, Outcome, outcome
from deeprule.search.reflect import Iteration, SearchConfig, SearchResult, fitted

Scorer = Callable[[Program], tuple[Program, Outcome]]
"""A proposed program -> the program as scored (constants fitted or not) and its outcome."""


def plain_scorer(cand: Candidates, fitness: FitnessConfig) -> Scorer:
    """Scores a rule exactly as written (the direct-LLM ablation)."""
    return lambda program: (program, outcome(program, decide(program, cand.columns), cand,
                                             fitness))


def fitting_scorer(cand: Candidates, fitness: FitnessConfig, evaluations: int) -> Scorer:
    """Fits the constants (Powell, at most `evaluations` Φ evaluations), then scores."""
    config = SearchConfig(fit_evaluations=evaluations, fitness=fitness)
    return lambda program: fitted(program, cand, config)


@dataclass
class Entry:
    key: str
    """Canonical text of the rule as proposed: what makes two proposals the same."""
    program: Program
    """The rule as scored (constants fitted when the scorer fits them)."""
    text: str
    outcome: Outcome
    number: int
    """Order of scoring, 0 = the first rule scored."""
    author: str
    parent: str | None = None
    islands: set[int] = field(default_factory=set)

    @property
    def fitness(self) -> float:
        return self.outcome.fitness

    def summary(self) -> str:
        """The rule on one line, its Φ and its author, for an iteration's note."""
        return f"{' '.join(self.text.split())!r} Φ {self.fitness:.2f} by {self.author}"


class ProgramDatabase:
    """Scored rules by canonical form; at most `budget` distinct rules are ever scored."""

    def __init__(self, scorer: Scorer, budget: int, islands: int = 1, seed: int = 0,
                 tournament: int = 3) -> None:
        if budget < 1 or islands < 1:
            raise ValueError(f"a program database needs budget >= 1 and islands >= 1, got "
                             f"{budget} and {islands}")
        self.scorer = scorer
        self.budget = budget
        self.islands = islands
        self.tournament = tournament
        self.rng = np.random.default_rng(seed)
        self.entries: dict[str, Entry] = {}
        self._next_island = 0

    @staticmethod
    def canonical(program: Program) -> str:
        return render_program(program)

    @property
    def spent(self) -> int:
        return len(self.entries)

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.budget

    def knows(self, program: Program) -> bool:
        return self.canonical(program) in self.entries

    def get(self, program: Program) -> Entry | None:
        return self.entries.get(self.canonical(program))

    def add(self, program: Program, author: str, parent: str | None = None,
            island: int | None = None) -> Entry | None:
        """The entry of `program`: stored already (free), newly scored (one unit of budget),
        or None when it is new and the budget is spent. New entries without an island go
        round-robin; every island of a known entry keeps it."""
        key = self.canonical(program)
        entry = self.entries.get(key)
        if entry is None:
            if self.exhausted:
                return None
            scored, result = self.scorer(program)
            entry = Entry(key, scored, render_program(scored), result, self.spent, author,
                          parent)
            self.entries[key] = entry
        entry.islands.add(self._island(island))
        return entry

    def _island(self, island: int | None) -> int:
        if island is not None:
            if not 0 <= island < self.islands:
                raise ValueError(f"island {island} outside 0..{self.islands - 1}")
            return island
        self._next_island = (self._next_island + 1) % self.islands
        return (self._next_island - 1) % self.islands

    def members(self, island: int | None = None) -> list[Entry]:
        """The island's entries (all entries for None), fittest first."""
        chosen = [e for e in self.entries.values() if island is None or island in e.islands]
        return sorted(chosen, key=lambda e: (-e.fitness, e.number))

    def best(self, island: int | None = None) -> Entry:
        ranked = self.members(island)
        if not ranked:
            raise ValueError("the program database is empty" if island is None
                             else f"island {island} is empty")
        return ranked[0]

    def top(self, k: int, island: int | None = None) -> list[Entry]:
        return self.members(island)[:k]

    def sample_parent(self, island: int | None = None) -> Entry:
        """Tournament selection within the island (the fittest of a few drawn at random):
        usually a good rule, not always the best, so lineages other than the leader's grow."""
        ranked = self.members(island) or self.members()
        if not ranked:
            raise ValueError("the program database is empty")
        picks = self.rng.choice(len(ranked), size=min(self.tournament, len(ranked)),
                                replace=False)
        return ranked[int(min(picks))]

    def migrate(self) -> None:
        """Ring migration: each island's best joins the next island (no scoring, no cost)."""
        if self.islands == 1:
            return
        leaders = [self.members(i)[:1] for i in range(self.islands)]
        for i, leader in enumerate(leaders):
            for entry in leader:
                entry.islands.add((i + 1) % self.islands)

    def keep_only(self, island: int, kept: list[Entry]) -> None:
        """Make `kept` the island's whole membership (an evolving population's survivors);
        the others stay in the database, still known, still free if proposed again."""
        chosen = {e.key for e in kept}
        for entry in self.entries.values():
            if entry.key in chosen:
                entry.islands.add(island)
            else:
                entry.islands.discard(island)

    def authors(self) -> dict[str, int]:
        """How many scored rules each author wrote."""
        counts: dict[str, int] = {}
        for entry in self.entries.values():
            counts[entry.author] = counts.get(entry.author, 0) + 1
        return counts

    def table(self) -> pl.DataFrame:
        """One row per scored rule, in scoring order (for MLflow / DuckDB)."""
        schema = {"number": pl.Int64, "fitness": pl.Float64, "profit": pl.Float64,
                  "violations": pl.Int64, "author": pl.String, "islands": pl.String,
                  "rule": pl.String, "proposed": pl.String, "parent": pl.String}
        return pl.DataFrame([
            {"number": e.number, "fitness": e.fitness, "profit": e.outcome.profit,
             "violations": e.outcome.violations, "author": e.author,
             "islands": ",".join(map(str, sorted(e.islands))), "rule": e.text,
             "proposed": e.key, "parent": e.parent} for e in self.entries.values()],
            schema=schema)

    def state(self) -> dict:
        """JSON-ready contents for a checkpoint (texts, not objects)."""
        return {"entries": [{"key": e.key, "text": e.text, "author": e.author,
                             "parent": e.parent, "islands": sorted(e.islands)}
                            for e in self.entries.values()],
                "next_island": self._next_island, "rng": self.rng.bit_generator.state}

    @classmethod
    def restored(cls, state: dict, cand: Candidates, fitness: FitnessConfig, scorer: Scorer,
                 budget: int, islands: int = 1, seed: int = 0, tournament: int = 3
                 ) -> ProgramDatabase:
        """A database from `state()`: each scored rule re-parsed from its exact text and
        re-scored as written (its fitted constants are in the text: no refitting, no
        budget), its random draws continuing where they stopped."""
        db = cls(scorer, budget, islands, seed, tournament)
        rescore = plain_scorer(cand, fitness)
        for number, saved in enumerate(state["entries"]):
            program, result = rescore(parse_program(saved["text"], RULE_FEATURES))
            db.entries[saved["key"]] = Entry(saved["key"], program, saved["text"], result,
                                             number, saved["author"], saved["parent"],
                                             set(saved["islands"]))
        db._next_island = state["next_island"]
        if "rng" in state:
            db.rng.bit_generator.state = state["rng"]
        return db


def started_result(expert: Entry, seconds: float) -> SearchResult:
    """A search result whose iteration 0 is the expert rule (every searcher starts there)."""
    result = SearchResult(expert.program, expert.outcome)
    result.iterations.append(Iteration(0, "expert", expert.text, expert.fitness,
                                       expert.outcome.profit, expert.outcome.violations, None,
                                       f"expert rule, by {expert.author}", seconds=seconds))
    return result


def record(result: SearchResult, entry: Entry | None, status: str, note: str, seconds: float,
           tokens: tuple[int, int] = (0, 0), llm_calls: int = 0,
           llm: tuple[str, str] = ("", ""), corrections: str = "") -> Iteration:
    """Append one iteration carrying the best rule so far (a convergence curve reads
    `fitness` row by row); `entry` becomes the best when it beats it by more than
    SearchConfig.min_gain (relative), and the status is then `improved`. `llm`: the
    backend and model that wrote (or guided) the iteration's rule."""
    number = len(result.iterations)
    gain = entry.fitness - result.best_outcome.fitness if entry is not None else 0.0
    improved = gain > SearchConfig().min_gain * abs(result.best_outcome.fitness)
    if improved:
        result.best, result.best_outcome, result.best_number = (entry.program, entry.outcome,
                                                                number)
    best = result.best_outcome
    step = Iteration(number, "improved" if improved else status, render_program(result.best),
                     best.fitness, best.profit, best.violations, gain if improved else None,
                     note, tokens[0], tokens[1], seconds, llm_calls=llm_calls,
                     llm_backend=llm[0], llm_model=llm[1], corrections=corrections)
    result.iterations.append(step)
    return step


def result_state(result: SearchResult) -> dict:
    """A search result as checkpoint JSON: its iterations and which one holds the best rule."""
    return {"iterations": [asdict(i) for i in result.iterations],
            "best_number": result.best_number}


def resumed_result(state: dict, cand: Candidates, fitness: FitnessConfig) -> SearchResult:
    """The result of `result_state`: the best rule re-parsed from its iteration's exact text
    (fitted constants included) and re-scored as written."""
    iterations = [Iteration(**i) for i in state["iterations"]]
    best = iterations[state["best_number"]]
    program, scored = plain_scorer(cand, fitness)(parse_program(best.rule, RULE_FEATURES))
    return SearchResult(program, scored, state["best_number"], iterations)
