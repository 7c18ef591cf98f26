"""The demand model: non-negative, never rising in price, trained honestly on earlier months."""

import numpy as np
import polars as pl
import pytest
import torch

from deeprule.models.dataset import ScorerData
from deeprule.models.demand import DemandFit, DemandScorer, price_arrays, prior_matrix
from deeprule.models.matrix import codes, find, scoring_frame
from deeprule.models.metrics import wape
from deeprule.models.nets import DemandNet

SWEEP = np.linspace(0.3, 2.5, 45)


def _randomize(net: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere (the heads start at zero): monotonicity must not depend on them."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))


def _sweep(scorer: DemandScorer, data: ScorerData) -> np.ndarray:
    """(prices, rows) units for every row of every split, each price a multiple of list price."""
    frames = [data.train, data.valid, data.test]
    curves = []
    for frame in frames:
        response = scorer.response(frame)
        list_price = frame.column("list_price")
        curves.append(np.stack([response.units(list_price * s) for s in SWEEP]))
    return np.concatenate(curves, axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_units_never_rise_with_price_for_random_weights(tiny_data: ScorerData, seed: int) -> None:
    net = DemandNet(tiny_data.train.high.shape[1], tiny_data.train.low.shape[1],
                    tiny_data.spec.basis.size)
    _randomize(net, seed)
    curves = _sweep(DemandScorer(net, tiny_data.spec), tiny_data)
    assert curves.shape[1] > 500
    assert np.all(np.isfinite(curves)) and np.all(curves >= 0)
    assert np.all(np.diff(curves, axis=0) <= 1e-9 * np.maximum(curves[:-1], 1.0))


def test_trained_model_is_monotone_and_non_negative(demand_fit: DemandFit,
                                                    tiny_data: ScorerData) -> None:
    curves = _sweep(demand_fit.scorer, tiny_data)
    assert np.all(curves >= 0)
    assert np.all(np.diff(curves, axis=0) <= 1e-9 * np.maximum(curves[:-1], 1.0))
    assert np.all(demand_fit.scorer.response(tiny_data.test).elasticity(
        tiny_data.test.column("unit_price")) <= 0)


def test_network_forward_equals_closed_form_response(demand_fit: DemandFit,
                                                     tiny_data: ScorerData) -> None:
    """The exported per-row terms give exactly what the network computes at the logged price."""
    frame, scorer = tiny_data.valid, demand_fit.scorer
    phi, phi_usual = price_arrays(frame, tiny_data.spec, training=False)
    with torch.no_grad():
        log_units = scorer.net(*(torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in
                                 (frame.high, frame.low, prior_matrix(frame), phi, phi_usual)))
    np.testing.assert_allclose(np.exp(log_units.numpy()), scorer.predict(frame), rtol=1e-4)


def test_training_records_epochs_and_keeps_the_best(demand_fit: DemandFit,
                                                    tiny_data: ScorerData) -> None:
    history = demand_fit.history
    assert len(history) >= 2 and "train_loss" not in history[0]  # step 0 = priors, untrained
    assert all({"val_loss", "val_wape"} <= set(h) for h in history)
    best = min(range(len(history)), key=lambda i: history[i]["val_wape"])
    assert demand_fit.best_epoch == best
    assert demand_fit.val_wape == pytest.approx(history[best]["val_wape"], rel=1e-4)
    assert demand_fit.val_wape == pytest.approx(
        wape(tiny_data.valid.column("units"), demand_fit.scorer.predict(tiny_data.valid)),
        rel=1e-4)


def test_split_is_by_month_and_spec_sees_only_training_months(tiny_data: ScorerData) -> None:
    months = [frame.rows["month"].unique().to_list()
              for frame in (tiny_data.train, tiny_data.valid, tiny_data.test)]
    assert max(months[0]) < min(months[1]) <= max(months[1]) < min(months[2])
    assert tiny_data.spec.train_months == [m.isoformat() for m in months[0]]


def test_scoring_candidate_rows_at_any_price(demand_fit: DemandFit, tiny_tables,
                                             tiny_data: ScorerData) -> None:
    rows = tiny_data.test.rows.head(20)
    query = rows.select("customer_id", "sku_id", "month")
    at_list = scoring_frame(query, tiny_tables, tiny_data.spec)
    cheaper = scoring_frame(query.with_columns(
        unit_price=rows["list_price"] * 0.8), tiny_tables, tiny_data.spec)
    assert np.all(demand_fit.scorer.predict(cheaper) >= demand_fit.scorer.predict(at_list))
    with pytest.raises(ValueError, match="unknown sku_id"):
        scoring_frame(pl.DataFrame({"customer_id": ["C0001"], "sku_id": ["NOPE"],
                                    "month": rows["month"][:1]}), tiny_tables, tiny_data.spec)


def test_codes_give_np_uniques_answer_and_find_marks_unseen_keys() -> None:
    """The key coding the demand fit and the pair prior share: sorted distinct keys and each
    row's index into them, as np.unique(return_inverse=True) gives; `find` says which keys
    of another frame were seen."""
    rng = np.random.default_rng(0)
    keys = pl.Series([f"c{i}|b{j}" for i, j in rng.integers(0, 30, (5_000, 2))])
    distinct, index = codes(keys)
    expected, inverse = np.unique(keys.to_numpy(), return_inverse=True)
    assert distinct.to_list() == expected.tolist()
    assert np.array_equal(index, inverse)
    found, at = find(pl.Series(["c1|b2", "new|key", "c29|b0"]), distinct)
    assert found.tolist() == [True, False, True]
    assert distinct[int(at[0])] == "c1|b2" and distinct[int(at[2])] == "c29|b0"
