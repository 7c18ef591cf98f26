"""The raw-table data contract: columns, types, keys and allowed ranges.

One place that the generator, the bring-your-own-data loader, the validators,
the asset checks and `docs/data-contract.md` all read, so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Column:
    """One column of a raw table and the values it may hold."""

    name: str
    dtype: type[pl.DataType] | pl.DataType
    description: str
    min_value: float | None = None
    max_value: float | None = None
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    month_start: bool = False
    """A date that must be the first day of its month (a monthly partition key)."""


@dataclass(frozen=True)
class Reference:
    """`column` must name an existing `parent_table.parent_column` (else the row is quarantined)."""

    column: str
    parent_table: str
    parent_column: str


@dataclass(frozen=True)
class Identity:
    """Arithmetic the contract promises: `column` = `formula`, within a stated tolerance.

    A row is quarantined when |column - formula| > abs_tol + rel_tol * |formula|.
    """

    column: str
    formula: str
    expr: pl.Expr = field(compare=False)
    abs_tol: float = 0.01
    rel_tol: float = 0.01


@dataclass(frozen=True)
class TableSchema:
    """A raw table: its columns and the columns that form its unique key."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    extra_columns_allowed: bool = False
    partition_column: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    identities: tuple[Identity, ...] = ()
    required: bool = True
    """A user's data folder must hold the table; an optional one may be absent (no rows)."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def polars_schema(self) -> dict[str, type[pl.DataType] | pl.DataType]:
        return {c.name: c.dtype for c in self.columns}


DOC_TYPES = ("profile", "reward_penalty", "price_application", "approval", "negotiation")
# What documents state, in closed sets: the generator writes from them and extraction
# answers in them (docs/data-contract.md, "raw_documents").
PRICE_SENSITIVITY_LEVELS: tuple[str, ...] = ("low", "medium", "high")
SCALE_BANDS: tuple[str, ...] = ("small", "medium", "large")
SENTIMENTS: tuple[str, ...] = ("positive", "neutral", "negative")
EVENT_STATES: tuple[str, ...] = (
    "sales_target_met",
    "late_payment",
    "price_violation",
    "display_compliance",
    "cross_region_selling",
    "returns_excess",
)
EVENT_ACTIONS: tuple[str, ...] = ("reward", "penalty")

CUSTOMERS = TableSchema(
    name="customers",
    description="Distributor customers (the paper's c_k). Observable attributes only.",
    key=("customer_id",),
    extra_columns_allowed=True,
    metadata={
        "extra columns": "any further numeric raw attributes named attr_* (the paper has ~62)",
    },
    columns=(
        Column("customer_id", pl.String, "Unique customer identifier."),
        Column("name", pl.String, "Trading name."),
        Column("latitude", pl.Float64, "Depot latitude, degrees.", -90, 90),
        Column("longitude", pl.Float64, "Depot longitude, degrees.", -180, 180),
        Column("city", pl.String, "Nearest city."),
        Column("region", pl.String, "Sales region."),
        Column("customer_type", pl.String, "Channel type (wholesale, retail chain, ...)."),
        Column(
            "business_scale", pl.Float64, "Business scale s_k (thousand units per year).", 0, None
        ),
        Column("years_active", pl.Int64, "Years as a customer.", 0, 200),
        Column("credit_limit", pl.Float64, "Granted credit limit (currency).", 0, None),
    ),
)

STORES = TableSchema(
    name="stores",
    description="Retail stores (the paper's m_j) with location and demographics q_j.",
    key=("store_id",),
    columns=(
        Column("store_id", pl.String, "Unique store identifier."),
        Column("latitude", pl.Float64, "Latitude, degrees.", -90, 90),
        Column("longitude", pl.Float64, "Longitude, degrees.", -180, 180),
        Column("city", pl.String, "Nearest city."),
        Column("population", pl.Float64, "Residents in the catchment.", 0, None),
        Column("median_income", pl.Float64, "Median household income (currency/yr).", 0, None),
        Column("share_age_under_30", pl.Float64, "Share of residents under 30.", 0, 1),
        Column("share_age_30_55", pl.Float64, "Share of residents aged 30-55.", 0, 1),
        Column("share_age_over_55", pl.Float64, "Share of residents over 55.", 0, 1),
        Column("floor_area_sqm", pl.Float64, "Sales floor area, square metres.", 0, None),
    ),
)

SKUS = TableSchema(
    name="skus",
    description="Products (SKUs) with category, brand, style text and prices.",
    key=("sku_id",),
    extra_columns_allowed=True,
    metadata={"extra columns": "further SKU attributes (the paper has 15 in all); one is read "
              "by name: `launch_month` (a date), which the new-pair prior's launch effect "
              "keys on (docs/plans.md), a SKU launched on or after the first shipment month "
              "being a launch"},
    columns=(
        Column("sku_id", pl.String, "Unique SKU identifier."),
        Column("primary_category", pl.String, "Primary category."),
        Column("secondary_category", pl.String, "Secondary category."),
        Column("brand", pl.String, "Brand name."),
        Column("style_text", pl.String, "Free-text style description (colour, pattern, scent)."),
        Column("color", pl.String, "Colour."),
        Column("pattern", pl.String, "Pattern."),
        Column("scent", pl.String, "Scent."),
        Column("pack_size", pl.Int64, "Units per pack.", 1, None),
        Column("cost", pl.Float64, "Unit cost to the manufacturer.", 0, None),
        Column("wholesale_price", pl.Float64, "Reference wholesale price.", 0, None),
        Column("list_price", pl.Float64, "List price to customers.", 0, None),
    ),
)

SHIPMENTS = TableSchema(
    name="shipments",
    description="Monthly shipments customer x SKU (partitioned by month).",
    key=("customer_id", "sku_id", "month"),
    partition_column="month",
    references=(
        Reference("customer_id", "customers", "customer_id"),
        Reference("sku_id", "skus", "sku_id"),
    ),
    identities=(
        Identity("unit_price", "list_price * (1 - discount)",
                 pl.col("list_price") * (1 - pl.col("discount"))),
        Identity("revenue", "units * unit_price", pl.col("units") * pl.col("unit_price")),
    ),
    columns=(
        Column("customer_id", pl.String, "Customer shipped to (must exist in customers)."),
        Column("sku_id", pl.String, "SKU shipped (must exist in skus)."),
        Column("month", pl.Date, "First day of the shipment month.", month_start=True),
        Column("list_price", pl.Float64, "List price that month.", 0, None),
        Column("discount", pl.Float64, "Discount off list price, fraction.", 0, 0.95),
        Column("unit_price", pl.Float64, "Net unit price = list_price * (1 - discount).", 0, None),
        Column("units", pl.Int64, "Units shipped.", 0, None),
        Column("revenue", pl.Float64, "units * unit_price.", 0, None),
    ),
)

RAW_DOCUMENTS = TableSchema(
    name="raw_documents",
    description="Unstructured business documents per customer (untrusted text).",
    key=("doc_id",),
    references=(Reference("customer_id", "customers", "customer_id"),),
    columns=(
        Column("doc_id", pl.String, "Unique document identifier."),
        Column("customer_id", pl.String, "Customer the document is about."),
        Column("doc_type", pl.String, "Kind of document.", allowed=DOC_TYPES),
        Column("doc_date", pl.Date, "Date written."),
        Column("title", pl.String, "Title line."),
        Column("text", pl.String, "Body text."),
        Column(
            "content_hash", pl.String,
            "sha256 of title + newline + text (drives incremental extraction).",
        ),
    ),
)

EXPENSE_TYPES = ("logistics", "promotion", "rebates")

EXPENSES = TableSchema(
    name="expenses",
    description="Monthly expenses per customer by type (partitioned by month): what serving "
    "the account cost, for the fee ratios FR_{c,k1} of the paper's Appendix E.",
    key=("customer_id", "month", "expense_type"),
    partition_column="month",
    required=False,
    references=(Reference("customer_id", "customers", "customer_id"),),
    columns=(
        Column("customer_id", pl.String, "Customer the expense was incurred for."),
        Column("month", pl.Date, "First day of the month.", month_start=True),
        Column("expense_type", pl.String, "Kind of expense.", allowed=EXPENSE_TYPES),
        Column("amount", pl.Float64, "Amount (currency).", 0, None),
    ),
)

RAW_TABLES: dict[str, TableSchema] = {
    t.name: t for t in (CUSTOMERS, STORES, SKUS, SHIPMENTS, EXPENSES, RAW_DOCUMENTS)
}
