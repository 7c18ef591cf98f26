"""Memory retrieval: the top-K entries most similar to the failing segments."""

import time

from deeprule.features.embedding import PackagedSentenceEncoder
from deeprule.search.memory import MemoryBank, MemoryEntry
from tests.helpers.memory import WordEncoder


def entry(iteration: int, segment: str, change: str = "price = cost * 1.4") -> MemoryEntry:
    return MemoryEntry(iteration, segment, change, 0.20, 0.12, "raise the markup", "fitted")


BANK = [entry(1, "pharmacy_chain / large"), entry(2, "wholesaler / small"),
        entry(3, "online_reseller / mid"), entry(4, "convenience_network / small"),
        entry(5, "online_reseller / large")]


def test_the_most_similar_entry_wins_over_the_most_recent() -> None:
    bank, encoder = MemoryBank(list(BANK)), WordEncoder()
    found = bank.similar(["pharmacy_chain / large"], 2, encoder)
    assert found[0].iteration == 1  # the oldest, but the same segment
    assert found[1].iteration == 5  # shares "large"; the later of the ties
    assert [e.iteration for e in bank.similar(["wholesaler / small", "online_reseller / mid"],
                                               2, encoder)] == [3, 2]
    calls = encoder.calls
    bank.similar(["pharmacy_chain / large"], 2, encoder)
    assert encoder.calls == calls  # vectors are kept by text


def test_with_k_or_fewer_entries_all_are_quoted_and_nothing_is_embedded() -> None:
    encoder = WordEncoder()
    bank = MemoryBank(BANK[:3])
    assert [e.iteration for e in bank.similar(["wholesaler / small"], 3, encoder)] == [3, 2, 1]
    assert encoder.calls == 0 and MemoryBank().similar(["x"], 3, encoder) == []


def test_an_entry_quotes_its_segment_change_loss_change_and_reflection() -> None:
    line = entry(2, "wholesaler / small").line()
    assert line.startswith("iteration 2, segment wholesaler / small: rule price = cost * 1.4")
    assert "0.200 -> 0.120 (-0.080)" in line and "reflection: raise the markup" in line
    refused = MemoryEntry(3, "wholesaler / small", "stock nothing", 0.2, None, "", "refused")
    assert refused.loss_change is None and refused.line().endswith("; refused")


def test_the_packaged_minilm_retrieves_the_semantically_closest_memory() -> None:
    """The real encoder (measured 1.6 s to load and embed here, warm): a pharmacy query finds
    the drugstore memory although they share no word."""
    bank = MemoryBank([entry(1, "drugstore chain, large", "price = usual_price * 1.1"),
                       entry(2, "wholesaler / small", "price = cost * 1.2"),
                       entry(3, "online reseller / mid", "price = list_price * 0.9"),
                       entry(4, "discount grocer / mid", "price = cost * 1.1")])
    started = time.perf_counter()
    found = bank.similar(["pharmacy chain, large"], 1, PackagedSentenceEncoder())
    print(f"MiniLM load + 5 texts: {time.perf_counter() - started:.1f} s")
    assert found[0].iteration == 1
