"""Runs that survive: every searcher, killed between two iterations and started again with
the same checkpoint, ends exactly where an uninterrupted run ends; a finished run started
again asks and scores nothing; N counts every LLM request, re-asks included."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.testing import ScriptedBackend
from deeprule.rules import render_program
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.mcts import MCTSConfig, _Node
from deeprule.search.objective import RULE_FEATURES
from deeprule.search.searchers import SEARCHERS, SearchRequest, searcher
from deeprule.search.tokens import Grammar, Partial
from tests.helpers.rules import NO_PENALTY, markup_rule, toy_candidates

MARKET = toy_candidates(wholesaler=2.0)
BUDGETS = {"llm_reflection": 5, "evolution": 150, "rl": 30, "mcts": 20, "mcts_no_llm": 20,
           "direct_llm": 6}
DEGENERATE = json.dumps({
    "reflection": "stock nothing",
    "stock": {"left": {"kind": "feature", "name": "hist_units"}, "cmp": "<",
              "right": {"kind": "feature", "name": "hist_units"}},
    "price": {"kind": "feature", "name": "usual_price"}})
"""A rule the check refuses (`hist_units < hist_units` stocks nothing)."""


class _Killed(BaseException):
    """Stands in for kill -9 between two iterations (not an Exception: nothing catches it)."""


def answer(prompt: Prompt, schema: type) -> str:
    """A rule that depends on the prompt only (so a resumed run is asked what the whole run
    was asked), the first allowed token for a tree-search node."""
    if schema.__name__ == "TokenAdvice":
        allowed = prompt.user.split("Allowed next tokens: ")[1].split("\n")[0].split(", ")
        return json.dumps({"next_tokens": [allowed[len(prompt.user) % len(allowed)]],
                           "promise": len(prompt.user) % 10 / 10})
    return markup_rule(1.2 + 0.03 * (len(prompt.user) % 11),
                       base=("cost", "usual_price", "list_price")[len(prompt.user) % 3])


def dies_after(iterations: int):
    heard: list[str] = []

    def progress(message: str) -> None:
        heard.append(message)
        if len(heard) == iterations:
            raise _Killed

    return progress


def run(name: str, request: SearchRequest, backend: ScriptedBackend, progress=lambda _: None):
    client = LLMClient(backend, None) if SEARCHERS[name].uses_llm else None
    return searcher(name).run(MARKET, request, client, progress)


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_a_killed_search_resumes_and_ends_as_the_uninterrupted_run(name: str,
                                                                  tmp_path: Path) -> None:
    request = SearchRequest(BUDGETS[name], seed=1, fitness=NO_PENALTY)
    whole_backend = ScriptedBackend(responder=answer)
    whole = run(name, request, whole_backend)
    saved = replace(request, checkpoint=Checkpoint(tmp_path / f"{name}.json", "rows"))

    killed = ScriptedBackend(responder=answer)
    with pytest.raises(_Killed):
        run(name, saved, killed, dies_after(2))
    rest, heard = ScriptedBackend(responder=answer), []
    resumed = run(name, saved, rest, heard.append)
    assert heard[0].startswith("resumed after")
    assert [(i.number, i.status, i.rule) for i in resumed.iterations] == [
        (i.number, i.status, i.rule) for i in whole.iterations]
    assert resumed.best_number == whole.best_number
    assert render_program(resumed.best) == render_program(whole.best)
    assert resumed.best_outcome.fitness == pytest.approx(whole.best_outcome.fitness, rel=1e-9)
    assert killed.calls + rest.calls == whole_backend.calls  # nothing asked twice

    again, heard = ScriptedBackend(responder=answer), []
    finished = run(name, saved, again, heard.append)
    assert again.calls == 0 and len(heard) == 1  # resumed, nothing bred, fitted or asked
    assert len(finished.iterations) == len(whole.iterations)


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_a_checkpoint_of_other_settings_is_not_resumed(name: str, tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / f"{name}.json", "rows")
    request = SearchRequest(BUDGETS[name], seed=1, fitness=NO_PENALTY, checkpoint=checkpoint)
    run(name, request, ScriptedBackend(responder=answer))
    heard: list[str] = []
    run(name, replace(request, seed=2), ScriptedBackend(responder=answer), heard.append)
    assert not any(m.startswith("resumed") for m in heard)


@pytest.mark.parametrize("name", [n for n, s in SEARCHERS.items() if s.uses_llm])
def test_n_counts_every_llm_request_even_when_answers_are_refused(name: str) -> None:
    def refuse(prompt: Prompt, schema: type) -> str:
        return answer(prompt, schema) if schema.__name__ == "TokenAdvice" else DEGENERATE

    backend = ScriptedBackend(responder=refuse)
    result = run(name, SearchRequest(5, fitness=NO_PENALTY), backend)
    assert backend.calls <= 5
    assert sum(i.llm_calls for i in result.iterations) <= backend.calls


def test_the_reflection_loop_asks_fewer_re_asks_rather_than_overrun_n() -> None:
    backend = ScriptedBackend(responder=lambda *_: DEGENERATE)
    result = run("llm_reflection", SearchRequest(5, fitness=NO_PENALTY), backend)
    assert backend.calls == 5
    assert [i.llm_calls for i in result.iterations] == [0, 2, 2, 1]  # the last: no re-ask
    assert [i.status for i in result.iterations[1:]] == ["refused"] * 3
    assert result.stopped == "calls"


@pytest.mark.parametrize("name", [n for n, s in SEARCHERS.items() if s.uses_llm])
def test_a_malformed_answer_the_client_asks_again_counts_against_n(name: str) -> None:
    """The client's retry of an answer that failed validation is a request like any other:
    N = 5 requests are 5 requests sent, however many answers were malformed."""
    def once_malformed(prompt: Prompt, schema: type) -> str:
        return "{}" if backend.calls == 1 else answer(prompt, schema)

    backend = ScriptedBackend(responder=once_malformed)
    client = LLMClient(backend, None, max_retries=2, backoff_s=0.0)
    result = searcher(name).run(MARKET, SearchRequest(5, fitness=NO_PENALTY), client,
                                lambda _: None)
    assert backend.attempts[:2] == [0, 1]  # the first answer failed validation, re-asked
    assert backend.calls == 5  # the re-ask was the sixth request before the fix
    assert client.usage.requests() == 5
    assert sum(i.llm_calls for i in result.iterations) <= 5
    if name != "mcts":  # one iteration per proposal: every request is in one
        assert sum(i.llm_calls for i in result.iterations) == 5
        assert result.iterations[1].llm_calls == 2


def _as_old_authors(tree: dict) -> dict:
    """A tree snapshot as checkpoints held it before authors were structured: the text
    `backend/model`, or `no LLM` for kind-balanced priors."""
    author = "/".join(tree["author"]) if tree["author"] else "no LLM"
    return {**tree, "author": author,
            "children": {t: _as_old_authors(c) for t, c in tree["children"].items()}}


def _authors(tree: dict) -> list:
    return [tree["author"], *(a for c in tree["children"].values() for a in _authors(c))]


def test_a_tree_search_checkpoint_with_text_authors_still_resumes(tmp_path: Path) -> None:
    request = SearchRequest(BUDGETS["mcts"], seed=1, fitness=NO_PENALTY)
    whole = run("mcts", request, ScriptedBackend(responder=answer))
    path = tmp_path / "mcts.json"
    saved = replace(request, checkpoint=Checkpoint(path, "rows"))
    with pytest.raises(_Killed):
        run("mcts", saved, ScriptedBackend(responder=answer), dies_after(5))
    written = json.loads(path.read_text())
    tree = written["state"]["tree"]
    assert ["scripted", "fake-model"] in _authors(tree) and None in _authors(tree)
    old = _as_old_authors(tree)
    assert "scripted/fake-model" in _authors(old) and "no LLM" in _authors(old)
    root = Partial(Grammar(tuple(RULE_FEATURES), MCTSConfig().max_stock_tokens,
                           MCTSConfig().max_price_tokens))
    assert _Node.restored(old, root) == _Node.restored(tree, root)

    path.write_text(json.dumps({**written, "state": {**written["state"], "tree": old}}))
    heard: list[str] = []
    resumed = run("mcts", saved, ScriptedBackend(responder=answer), heard.append)
    assert heard[0].startswith("resumed after")
    assert [(i.number, i.rule, i.llm_backend, i.llm_model) for i in resumed.iterations] == [
        (i.number, i.rule, i.llm_backend, i.llm_model) for i in whole.iterations]
