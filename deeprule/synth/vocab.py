"""Closed vocabularies of the synthetic world.

The generator draws names from these lists and the document-extraction
schemas import them, so a value an LLM extracts can be checked against the
same set the world was built from. A world of size n uses the first n names.
"""

from __future__ import annotations

# What documents state is the data contract's; the generator writes from the same sets.
from deeprule.schema import (  # noqa: F401
    EVENT_ACTIONS,
    EVENT_STATES,
    PRICE_SENSITIVITY_LEVELS,
    SCALE_BANDS,
    SENTIMENTS,
)

PRIMARY_CATEGORIES: tuple[str, ...] = (
    "Fragrance",
    "Skin Care",
    "Hair Care",
    "Laundry",
    "Home Cleaning",
    "Oral Care",
    "Bath & Body",
    "Paper Goods",
)

SECONDARY_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Fragrance": ("Eau de Parfum", "Body Mist", "Cologne", "Perfume Oil", "Gift Set"),
    "Skin Care": ("Face Cream", "Serum", "Cleanser", "Sunscreen", "Face Mask"),
    "Hair Care": ("Shampoo", "Conditioner", "Hair Oil", "Styling Gel", "Hair Mask"),
    "Laundry": ("Detergent Powder", "Liquid Detergent", "Fabric Softener", "Stain Remover",
                "Laundry Pods"),
    "Home Cleaning": ("Surface Spray", "Dishwashing Liquid", "Floor Cleaner", "Glass Cleaner",
                      "Toilet Cleaner"),
    "Oral Care": ("Toothpaste", "Toothbrush", "Mouthwash", "Dental Floss", "Whitening Strips"),
    "Bath & Body": ("Shower Gel", "Bar Soap", "Body Lotion", "Bath Salts", "Hand Wash"),
    "Paper Goods": ("Facial Tissue", "Kitchen Towel", "Toilet Roll", "Wet Wipes", "Napkins"),
}

PREMIUM_CATEGORIES: frozenset[str] = frozenset({"Fragrance", "Skin Care"})

BRANDS: tuple[str, ...] = (
    "Aurelle", "Brightwell", "Calyxa", "Dorian", "Elvaris", "Fenwick", "Glenhart", "Halvora",
    "Ivessa", "Jorvik", "Kestrel", "Lunaris", "Maribel", "Norvane", "Orlesse", "Pellham",
    "Quenby", "Rosalind", "Solvane", "Tavish", "Ulmara", "Verity", "Wrenfield", "Xandria",
    "Yarrowby", "Zephyra", "Ambrel", "Bexley", "Corvina", "Delmont", "Estoria", "Fallon",
    "Gilmora", "Hollis", "Isobar", "Jessamy",
)

COMPETITOR_BRANDS: tuple[str, ...] = (
    "Cleanrite", "Purelux", "Freshmark", "Softelle", "Vantique", "Nordglow", "Sunbright",
    "Crystelle", "Homestar", "Dentalis", "Silkroot", "Ecovera",
)

COLORS: tuple[str, ...] = (
    "ivory", "blush pink", "sage green", "ocean blue", "charcoal", "lilac", "amber", "coral",
    "pearl white", "midnight navy", "seafoam", "burgundy",
)
PATTERNS: tuple[str, ...] = (
    "plain", "floral", "striped", "geometric", "marbled", "polka dot", "botanical",
    "minimalist", "watercolour", "herringbone",
)
SCENTS: tuple[str, ...] = (
    "unscented", "lavender", "citrus", "vanilla", "sea breeze", "rose", "sandalwood",
    "green tea", "eucalyptus", "coconut", "jasmine", "mint",
)
PACKAGING: tuple[str, ...] = ("bottle", "tube", "jar", "box", "pouch", "pump", "refill pack")
PACK_SIZES: tuple[int, ...] = (1, 2, 3, 4, 6, 12, 24)

CUSTOMER_TYPES: tuple[str, ...] = (
    "wholesaler",
    "retail chain",
    "convenience network",
    "pharmacy chain",
    "online reseller",
    "institutional buyer",
)
REGIONS: tuple[str, ...] = ("North", "South", "East", "West", "Central")

CITY_NAMES: tuple[str, ...] = (
    "Ashford", "Brennport", "Calder", "Dunmere", "Eastvale", "Farrowby", "Glenmoor", "Harlow Bay",
    "Ironbridge", "Jasper Falls", "Kingsreach", "Larkmead", "Marlow Cross", "Northwick",
    "Oakhaven", "Pemberton", "Queensford", "Ravenholm", "Stonebury", "Thornfield", "Upton Reach",
    "Valemont", "Westerly", "Yarrowdale", "Zelford", "Amberley", "Blackmere", "Coldharbour",
    "Dovecote", "Elmstead", "Fairhaven", "Greywater", "Highcliffe", "Ivydene", "Juniper Hill",
    "Kettering Mill", "Lowestone", "Millbrook", "Newhaven", "Orchard Rise", "Portsend",
    "Redwater", "Silverton", "Tidewell", "Underhill", "Vickersby", "Willowmere", "Yelverton",
    "Ashcombe", "Briarwood", "Castleton", "Deepdale", "Emberton", "Foxley", "Goldcrest",
    "Hawksmoor", "Inglewood", "Kestwick", "Longridge", "Moorcroft", "Netherby", "Oldcastle",
    "Pinegate", "Rookwood",
)

PRICE_SENSITIVITY_EDGES: tuple[float, float] = (0.8, 1.25)
"""Mean price-sensitivity multiplier below the first edge is 'low', above the second 'high'."""
SCALE_BAND_EDGES: tuple[float, float] = (25.0, 80.0)
"""business_scale (thousand units/yr) below the first edge is 'small', above the second 'large'."""

DOC_FIELDS: dict[str, tuple[str, ...]] = {
    "profile": ("categories", "core_brands", "price_sensitivity", "scale_band"),
    "reward_penalty": ("event",),
    "price_application": ("category", "requested_discount", "volume_commitment", "sentiment"),
    "approval": ("approved", "approved_discount", "sentiment", "discount_ceiling"),
    "negotiation": ("price_sensitivity", "core_brands"),
}
"""The fields `document_facts` records per doc_type (the extraction contract).

List values ('categories', 'core_brands') are '|'-joined and sorted; an `event`
value is 'state|action|amount' with amount a whole currency number; discounts
are fractions with two decimals (`discount_ceiling`: the deepest discount the
committee approves for the account); `approved` is 'true' or 'false'.
"""

DOC_OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "profile": ("announced_category",),
    "reward_penalty": (),
    "price_application": (),
    "approval": ("locked_sku",),
    "negotiation": ("category_sensitivity", "wanted_brands"),
}
"""Fields a document of the type states when the fact exists (and only then), beyond
DOC_FIELDS. Formats: `announced_category` 'Category|YYYY-MM-01' (the first month the
customer carries it); `locked_sku` 'SKU id|minimum monthly units', one per lock;
`category_sensitivity` 'Category|level', one per category mentioned; `wanted_brands`
'|'-joined sorted brands the customer wants but has never been offered.
"""
