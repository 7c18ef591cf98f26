"""Phrase banks the document writer draws from.

Each fact has several wordings so that no single pattern match recovers it;
distractors add text that mentions brands, categories and numbers without
stating a fact. Slots in braces are filled by `deeprule.synth.documents`.
"""

from __future__ import annotations

OPENERS = (
    "{name} is {a_ctype} based in {city}, in the {region} region, and has bought from us for "
    "{years} years.",
    "Founded as {a_ctype} in {city}, {name} has been an account of ours for about {years} years.",
    "This note covers {name}, {a_ctype} operating out of {city} ({region} region).",
    "{name} runs its business from {city} as {a_ctype}; the relationship goes back {years} years.",
)

SCOPE = (
    "Its business scope covers {cats}.",
    "The account trades in {cats}.",
    "They stock {cats} and nothing outside those lines.",
    "Product range handled: {cats}.",
    "Orders over the past year were spread across {cats}.",
)

PROFILE_BRANDS = (
    "Core brands: {brands}.",
    "Most of its orders are for {brands}.",
    "The shelves are built around {brands}.",
    "It has long carried {brands} as its main lines.",
    "Asked which of our brands matter most, the owner named {brands}.",
)

NEGOTIATION_BRANDS = (
    "They confirmed that {brands} remain their priority brands.",
    "The buyer wants a larger allocation of {brands} next season.",
    "On brands, their focus stays on {brands}.",
    "Any deal has to protect supply of {brands}, which is what their shoppers ask for.",
)

PROFILE_SENSITIVITY = {
    "high": (
        "{name} negotiates hard on every line and moves volume to whoever quotes lowest.",
        "Their buyers track shelf prices weekly and react at once to any increase.",
        "Price decides almost everything for this account; even small increases bring "
        "complaints.",
        "Margins here are thin, so every cent of list price is contested.",
        "They have changed suppliers before over a few percent of price.",
    ),
    "medium": (
        "Price matters to them, but availability and service weigh about as much.",
        "They compare quotes, yet accept a modest premium for reliable delivery.",
        "Pricing comes up in account reviews, though rarely as the main issue.",
        "They keep an eye on prices without chasing every promotion.",
    ),
    "low": (
        "Price is seldom raised; delivery reliability and brand image matter more to them.",
        "They accept list prices with little discussion.",
        "The buyer calls our pricing a secondary concern next to range and support.",
        "Discounts are not what keeps this account; consistent supply is.",
    ),
}

ANNOUNCED = (
    "From {month} the account will also carry {cat}.",
    "They have decided to add {cat} to their range, starting {month}.",
    "The owner told us that {cat} goes on their shelves from {month} onwards.",
    "A new {cat} section is planned; the first orders are expected in {month}.",
)

WANTED_BRANDS = (
    "They keep asking when we will offer them {brands}, which they cannot get from us yet.",
    "The buyer would list {brands} tomorrow if we made it available to them.",
    "Shoppers ask them for {brands}; they want us to start supplying it.",
    "Their wish list is led by {brands}, not yet part of what we ship them.",
)

CATEGORY_SENSITIVITY = {
    "high": (
        "On {cat} they watch every cent; a small increase there moves their orders.",
        "For {cat} the buyer says shoppers compare prices constantly.",
        "In {cat} their margins are thin and price is what they negotiate first.",
    ),
    "medium": (
        "On {cat} price matters, but they care about availability as much.",
        "For {cat} they compare quotes without chasing the cheapest one.",
    ),
    "low": (
        "On {cat} price hardly comes up; range and image matter more.",
        "For {cat} they accept list price without discussion.",
        "Their {cat} shoppers are not price-driven, the buyer says.",
    ),
}

CEILING = (
    "For this account the committee does not approve discounts above {pct}.",
    "Policy caps any discount for this customer at {pct}; larger requests are refused.",
    "Requests beyond {pct} off list will not be approved for this account.",
)

LOCK = (
    "The supply contract obliges the account to take at least {units} units a month of "
    "{sku} ({label}).",
    "Under the contract, a minimum of {units} units of {sku} ({label}) is shipped every month.",
    "The agreement locks a monthly minimum of {units} units for {sku}, the {label}.",
)

NEGOTIATION_SENSITIVITY = {
    "high": (
        "The buyer opened by saying our prices leave them no room and that orders will be cut "
        "without relief.",
        "They argued that their shoppers walk away at the slightest price rise.",
        "Throughout the meeting the conversation kept coming back to price.",
        "Their team insisted that a competitive net price is the only thing that counts.",
    ),
    "medium": (
        "The buyer raised price once or twice but spent most of the time on logistics.",
        "They asked for some flexibility on price without pressing the point.",
        "Price was one topic among several, alongside lead times and shelf space.",
    ),
    "low": (
        "Price barely came up; the buyer wanted to talk about launches and displays.",
        "They said the current price level works well for them.",
        "The buyer made clear that price is not a concern as long as deliveries arrive on time.",
    ),
}

SCALE = {
    "small": (
        "It is a small account.",
        "It is a modest business, moving about {volume} thousand units a year.",
        "Volumes are low compared with our typical distributor.",
    ),
    "medium": (
        "It is a mid-sized business.",
        "Annual throughput is around {volume} thousand units.",
        "In size it sits in the middle of our customer base.",
    ),
    "large": (
        "It is one of our largest accounts.",
        "It is a high-volume distributor handling roughly {volume} thousand units a year.",
        "Few customers in the region buy on a larger scale.",
    ),
}

EVENTS = {
    ("sales_target_met", "reward"): (
        "In {month} the account beat its sales target and received a bonus of {amount}.",
        "Target achievement for the {quarter} quarter was confirmed; a rebate of {amount} was "
        "credited.",
        "A performance reward of {amount} was paid after sales exceeded the agreed goal.",
    ),
    ("late_payment", "penalty"): (
        "Invoices for {month} were settled {days} days late, and a charge of {amount} was applied.",
        "Payment arrived well after the due date in {month}; we imposed a late fee of {amount}.",
        "A penalty of {amount} was levied for overdue payment.",
    ),
    ("price_violation", "penalty"): (
        "Field checks in {month} found shelf prices below the agreed floor; a fine of {amount} "
        "followed.",
        "The account advertised below the minimum resale price and was penalised {amount}.",
        "Under-pricing against policy was recorded and a deduction of {amount} made.",
    ),
    ("display_compliance", "reward"): (
        "Display audits in {month} scored well, earning a display allowance of {amount}.",
        "Store displays met the merchandising standard; a reward of {amount} was granted.",
    ),
    ("display_compliance", "penalty"): (
        "Display audits in {month} failed the merchandising standard; {amount} was withheld.",
        "Promotional displays were missing at the audit, costing the account {amount}.",
    ),
    ("cross_region_selling", "penalty"): (
        "Goods shipped to this account were traced to stores outside its assigned region; "
        "a penalty of {amount} was charged.",
        "Selling outside the contracted territory in {month} led to a deduction of {amount}.",
    ),
    ("returns_excess", "penalty"): (
        "Returns ran above the agreed ceiling in {month}; a handling charge of {amount} was "
        "applied.",
        "Excess product returns were penalised with {amount}.",
    ),
}

WAIVED = (
    "A penalty proposed for late payment in {month} was withdrawn after review, so nothing "
    "was charged.",
    "A bonus discussed for the {quarter} quarter was never approved and has not been paid.",
    "A complaint about display quality in {month} was closed without any sanction.",
)

REQUEST = (
    "{name} asks for a {pct} discount on its {cat} orders for the coming quarter.",
    "The customer applies for {pct} off list price on {cat}.",
    "Requested: a {pct} reduction on {cat}, effective next month.",
    "They would like {pct} off our {cat} range.",
)

COMMITMENT = (
    "In return they commit to {volume} units over the quarter.",
    "The offer is tied to a volume commitment of {volume} units.",
    "They are prepared to guarantee {volume} units in exchange.",
)

APPLICATION_TONE = {
    "positive": (
        "The tone of the request is upbeat; they expect growth and want to invest in displays.",
        "The letter thanks us for recent support and sounds confident about the season.",
    ),
    "neutral": (
        "The request is matter-of-fact and refers to current market conditions.",
        "No particular urgency is expressed; the application follows the usual format.",
    ),
    "negative": (
        "The letter warns that without relief they will delist several lines.",
        "They describe trading as difficult and sound frustrated with our recent terms.",
    ),
}

DECISION = {
    "full": (
        "The request for {req} on {cat} is approved in full.",
        "We grant the {req} discount on {cat} as requested.",
    ),
    "partial": (
        "The committee approves {app} instead of the {req} requested on {cat}.",
        "A discount of {app} on {cat} is granted; the {req} asked for was not acceptable.",
        "Only part of the request can be met: {app} off {cat} rather than {req}.",
    ),
    "rejected": (
        "The request for {req} on {cat} is declined.",
        "We cannot approve the requested {req} on {cat} at this time.",
        "The committee rejected the application for {req} off {cat}.",
    ),
}

DECISION_TONE = {
    "positive": (
        "The committee appreciates the partnership and the strong sell-through.",
        "Reviewers were pleased with the account's recent performance.",
    ),
    "neutral": (
        "The decision follows standard margin guidelines.",
        "This outcome reflects the usual review criteria.",
    ),
    "negative": (
        "Concerns about payment history and pricing discipline weighed against the account.",
        "Reviewers were unhappy with recent conduct and expect improvement.",
    ),
}

DISTRACTORS = (
    "Their warehouse in {city} was repainted in spring.",
    "The delivery fleet consists of {small} vans.",
    "The account manager changed in {year}.",
    "Payment terms are net {terms} days.",
    "Opening a branch in {other_city} is under discussion.",
    "The buyer praised the new packaging of {competitor}, a rival supplier, but has no plans to "
    "list it.",
    "{competitor} is sold by a neighbouring distributor and is not part of our range.",
    "Weather in {month} slowed deliveries for about a week.",
    "The next review meeting is planned for {month}.",
    "{brand} was trialled in {year} and dropped after slow sales.",
    "They asked about {other_category} but have no intention of stocking it.",
    "Staff turnover at the depot has been high this year.",
    "Their ordering system was upgraded, which briefly delayed invoices.",
    "A local trade fair in {city} drew more visitors than last year.",
    "{competitor} is reportedly offering {small}% off similar lines nearby.",
    "Last year's application, for {old_pct}, was handled by a different team.",
    "Finance noted a credit limit of {credit_limit}.",
    "Parking at the {city} depot remains a problem for our trucks.",
    "No changes to the contract were agreed in this round.",
    "Samples of the autumn launches were left with the buyer.",
)

CLOSINGS = (
    "Notes filed by the regional sales office.",
    "Prepared for the quarterly account review.",
    "Recorded by the key-account team.",
    "",
)

TITLES = {
    "profile": ("Customer profile: {name}", "{name} - account overview",
                "Business profile of {name}"),
    "reward_penalty": ("Reward and penalty record - {name}", "Incentive ledger {year}: {name}",
                       "{name}: rewards and sanctions"),
    "price_application": ("Price application from {name}", "Discount request - {name}",
                          "{name}: application for price support"),
    "approval": ("Approval decision - {name}", "Pricing committee response to {name}",
                 "{name}: outcome of price application"),
    "negotiation": ("Negotiation notes - {name}, {month}", "Meeting minutes: {name}",
                    "{name}: notes from the {month} negotiation"),
}
