"""Facts that live only in documents, the logged policy that ignores them, and expenses."""

import numpy as np
import polars as pl

from deeprule.io.validate import attach_source, validate_table
from deeprule.schema import EXPENSE_TYPES, EXPENSES
from deeprule.synth import World, build_world, phrases, resolve_spec
from deeprule.synth.demand import OUT_OF_SCOPE
from deeprule.synth.world import slug


def _stated(world: World, field: str) -> pl.DataFrame:
    return world.document_facts().filter(field=field).select("doc_id", "customer_id", "value")


def test_announced_categories_are_stated_mostly_right_sometimes_outdated(
    docs_world: World,
) -> None:
    truth = docs_world.true_customer_traits().filter(pl.col("announced_category").is_not_null())
    assert 0.2 < truth.height / docs_world.spec.n_customers < 0.7
    stated = _stated(docs_world, "announced_category").join(
        truth.select("customer_id", "announced_category", "announced_month"), on="customer_id")
    assert stated.height == truth.height
    right = stated["value"] == (stated["announced_category"] + "|"
                                + stated["announced_month"].cast(pl.String))
    assert right.mean() >= 0.6 and not right.all()
    category = stated["value"].str.split("|").list.first()
    assert (category == stated["announced_category"]).all()


def test_buyers_state_category_sensitivity_with_some_overstatement(docs_world: World) -> None:
    traits = docs_world.true_customer_traits()
    stated = _stated(docs_world, "category_sensitivity").with_columns(
        pl.col("value").str.split("|").list.to_struct(fields=["category", "level"])
    ).unnest("value")
    assert stated.height >= docs_world.spec.n_customers
    truth = {(r["customer_id"], c): r[f"price_sensitivity_level_{slug(c)}"]
             for r in traits.iter_rows(named=True) for c in set(stated["category"])}
    match = np.array([truth[(k, c)] == lvl for k, c, lvl in
                      stated.select("customer_id", "category", "level").iter_rows()])
    assert 0.6 <= match.mean() < 1.0


def test_wanted_brands_and_locks_are_stated_as_they_are(docs_world: World) -> None:
    traits = docs_world.true_customer_traits()
    wanted = _stated(docs_world, "wanted_brands").join(
        traits.select("customer_id", "wanted_brands"), on="customer_id")
    assert wanted.height == (traits["wanted_brands"] != "").sum() > 0
    assert (wanted["value"] == wanted["wanted_brands"]).all()
    locks = docs_world.policy_locks()
    stated = _stated(docs_world, "locked_sku").with_columns(
        sku_id=pl.col("value").str.split("|").list.first(),
        min_units=pl.col("value").str.split("|").list.last().cast(pl.Float64))
    assert stated.height == locks.height > 0
    joined = stated.join(locks, on=["customer_id", "sku_id"], suffix="_true")
    assert (joined["min_units"] == joined["min_units_true"]).all()
    text = dict(docs_world.documents().select("doc_id", "text").iter_rows())
    assert all(sku in text[d] for d, sku in stated.select("doc_id", "sku_id").iter_rows())


def test_ceilings_are_stated_and_bound_logged_discounts(
    docs_world: World, tiny_world: World, tiny_shipments: pl.DataFrame,
) -> None:
    traits = docs_world.true_customer_traits().select("customer_id", "discount_ceiling")
    stated = _stated(docs_world, "discount_ceiling").join(traits, on="customer_id")
    right = stated["value"].cast(pl.Float64) == stated["discount_ceiling"]
    assert right.mean() >= 0.7 and not right.all()
    capped = tiny_shipments.join(tiny_world.true_customer_traits().select(
        "customer_id", "discount_ceiling"), on="customer_id")
    assert (capped["discount"] <= capped["discount_ceiling"] + 1e-9).all()


def test_an_announced_category_has_demand_only_from_its_month(tiny_world: World) -> None:
    traits = tiny_world.true_customer_traits().filter(
        pl.col("announced_category").is_not_null()).row(0, named=True)
    sku = tiny_world.skus().filter(primary_category=traits["announced_category"])["sku_id"][0]
    start = traits["announced_month"]
    before = start.replace(year=start.year - 1)
    q = [tiny_world.expected_units([traits["customer_id"]], [sku], 10.0, [m])[0]
         for m in (before, start)]
    assert abs(q[0] / q[1] - OUT_OF_SCOPE) < 0.02


def test_logged_policy_never_adds_announced_categories_or_wanted_brands(
    tiny_world: World, tiny_shipments: pl.DataFrame,
) -> None:
    traits = tiny_world.true_customer_traits()
    shipped = tiny_shipments.join(
        tiny_world.skus().select("sku_id", "primary_category", "brand"), on="sku_id"
    ).join(traits.select("customer_id", "announced_category", "wanted_brands"), on="customer_id")
    assert (shipped["primary_category"] != shipped["announced_category"]).fill_null(True).all()
    wanted = shipped.filter(pl.col("wanted_brands") != "")
    assert not any(b in w.split("|") for b, w in wanted.select("brand", "wanted_brands")
                   .iter_rows())


def test_new_skus_ship_only_after_launch_and_to_few_customers() -> None:
    world = build_world(resolve_spec("tiny", {"n_months": 18, "n_customers": 60}))
    skus = world.skus().select("sku_id", "launch_month")
    rows = pl.concat([world.shipments(m) for m in world.spec.months]).join(skus, on="sku_id")
    assert (rows["month"] >= rows["launch_month"]).all()
    new = rows.filter(pl.col("launch_month") > world.spec.start)
    old = rows.filter(pl.col("launch_month") <= world.spec.start)
    assert new.height > 0
    per_new = new.group_by("sku_id").agg(pl.col("customer_id").n_unique())["customer_id"]
    per_old = old.group_by("sku_id").agg(pl.col("customer_id").n_unique())["customer_id"]
    assert per_new.mean() < 0.5 * per_old.mean()


def test_logged_discount_is_one_per_customer_across_its_categories(
    tiny_world: World, tiny_shipments: pl.DataFrame,
) -> None:
    """Outside promotions, a customer's usual discount does not depend on the category."""
    month = tiny_shipments.filter(pl.col("month") == tiny_world.spec.months[0]).join(
        tiny_world.skus().select("sku_id", "primary_category"), on="sku_id")
    per_cat = month.group_by("customer_id", "primary_category").agg(pl.col("discount").median())
    spread = per_cat.group_by("customer_id").agg(
        (pl.col("discount").max() - pl.col("discount").min()).alias("spread"))
    assert spread["spread"].median() <= 0.13


def test_expenses_cover_every_shipping_customer_with_three_valid_types(
    tiny_world: World,
) -> None:
    month = tiny_world.spec.months[1]
    expenses = tiny_world.expenses(month)
    assert validate_table(attach_source(expenses, "generator"), EXPENSES).quarantine.height == 0
    shipped = set(tiny_world.shipments(month)["customer_id"])
    assert set(expenses["customer_id"]) == shipped
    assert expenses.group_by("customer_id").len()["len"].unique().to_list() == [
        len(EXPENSE_TYPES)]
    assert (expenses["amount"] >= 0).all()
    assert expenses.filter(expense_type="logistics")["amount"].min() > 0
    assert World(tiny_world.spec).expenses(month).equals(expenses)


def test_each_new_fact_is_worded_several_ways(docs_world: World) -> None:
    texts = " ".join(docs_world.documents()["text"])
    for name in ("ANNOUNCED", "WANTED_BRANDS", "CEILING", "LOCK"):
        templates = getattr(phrases, name)
        used = [t for t in templates if max(t.split("{"), key=len).split("}")[-1].strip()
                in texts]
        assert len(used) >= 2, name
