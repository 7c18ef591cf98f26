"""Business documents written from the latent customer traits, and what each one states.

Documents are the only place some traits surface, and they are imperfect on
purpose: facts are worded many ways and shuffled among distractors, profiles
can carry an outdated brand or category list, and negotiation notes may
overstate (or understate) price sensitivity. `document_facts` records what a
text states, which differs from the truth exactly where the text is wrong.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from deeprule.schema import DOC_TYPES, RAW_DOCUMENTS
from deeprule.synth import phrases
from deeprule.synth.customers import Customers
from deeprule.synth.rng import stream
from deeprule.synth.skus import Skus
from deeprule.synth.spec import MAX_DOC_WORDS, MIN_DOC_WORDS, WorldSpec
from deeprule.synth.vocab import COMPETITOR_BRANDS, PRICE_SENSITIVITY_LEVELS, SENTIMENTS

OUTDATED_ANNOUNCEMENT = 0.2
"""Chance a profile gives an old start month for the announced category."""
OUTDATED_CEILING = 0.15
"""Chance an approval quotes an old discount ceiling."""
OVERSTATED_CATEGORY = 0.25
"""Chance a buyer overstates its sensitivity in a category (to win a discount)."""
FACT_COLUMNS = ("doc_id", "customer_id", "doc_type", "field", "value")
QUARTERS = ("first", "second", "third", "fourth")


@dataclass(frozen=True)
class Subject:
    """Everything a writer may say about one customer (true values)."""

    customer_id: str
    name: str
    city: str
    region: str
    ctype: str
    years: int
    scale: float
    scale_band: str
    level: str
    scope: tuple[str, ...]
    core: tuple[str, ...]
    credit: float
    loyalty: float
    credit_limit: float
    sensitivity: dict[str, float]
    base_discount: dict[str, float]
    monthly_volume: dict[str, float]
    category_levels: dict[str, str]
    announced: tuple[str, date] | None
    wanted: tuple[str, ...]
    ceiling: float
    locks: tuple[tuple[str, str, int], ...]
    """(sku_id, a short description of the SKU, minimum monthly units)."""


@dataclass(frozen=True)
class Request:
    """A price application and the committee's answer to it."""

    category: str
    requested: float
    volume: int
    sentiment: str
    approved: bool
    approved_discount: float
    decision_sentiment: str


@dataclass(frozen=True)
class Draft:
    """A document before assembly: title, fact sentences, and the facts they state."""

    title: str
    facts: list[str]
    stated: list[tuple[str, str]]


class Writer:
    """Writes every document of a world from one seeded `random.Random` (fast per call)."""

    def __init__(self, spec: WorldSpec, skus: Skus, cities: list[str]) -> None:
        self.rnd = random.Random(int(stream(spec.seed, "documents").integers(2**62)))
        self.months = spec.months
        self.max_words = spec.doc_max_words
        self.span_days = (spec.end_exclusive - spec.start).days
        self.last_day = spec.end_exclusive - timedelta(days=1)
        self.categories = list(skus.categories)
        self.brands = sorted(set(skus.frame["brand"].to_list()))
        self.cities = cities
        layout = skus.frame.select("primary_category", "secondary_category").unique()
        self.secondaries = {
            c: sorted(layout.filter(pl.col("primary_category") == c)["secondary_category"])
            for c in self.categories
        }

    # ---- one customer ------------------------------------------------------------------

    def customer_documents(self, s: Subject, n_docs: int) -> list[tuple[str, str, date, Draft]]:
        """(doc_id, doc_type, date, draft) for the customer's documents, cycling the kinds."""
        requests: dict[int, Request] = {}
        applied: dict[int, date] = {}
        out = []
        for j in range(n_docs):
            kind, round_no = DOC_TYPES[j % len(DOC_TYPES)], j // len(DOC_TYPES)
            when = self._date()
            if kind in ("price_application", "approval") and round_no not in requests:
                requests[round_no] = self._request(s)
            if kind == "price_application":
                applied[round_no] = when
            elif kind == "approval" and round_no in applied:
                when = min(applied[round_no] + timedelta(days=self.rnd.randint(5, 30)),
                           self.last_day)
            out.append((f"DOC-{s.customer_id}-{j + 1:02d}", kind, when,
                        self._draft(kind, s, when, requests.get(round_no))))
        return out

    def _draft(self, kind: str, s: Subject, when: date, request: Request | None) -> Draft:
        if kind == "profile":
            return self.profile(s)
        if kind == "reward_penalty":
            return self.reward_penalty(s, when)
        if kind == "negotiation":
            return self.negotiation(s, when)
        assert request is not None
        if kind == "price_application":
            return self.price_application(s, request)
        return self.approval(s, request)

    def assemble(self, s: Subject, draft: Draft, when: date) -> str:
        """Opener, then facts and distractors shuffled, padded into the word range."""
        slots = self._slots(s, when, draft)
        pool = [t for t in phrases.DISTRACTORS if self._fits(t, slots)]
        self.rnd.shuffle(pool)
        body = list(draft.facts)
        extra = self.rnd.randint(1, 3)
        body += [self._fill(t, slots) for t in pool[:extra]]
        pool = pool[extra:]
        self.rnd.shuffle(body)
        sentences = [self._fill(self.rnd.choice(phrases.OPENERS), slots), *body]
        target = self.rnd.randint(MIN_DOC_WORDS + 5, self.max_words)
        while _words(sentences) < target and pool:
            sentences.insert(self.rnd.randint(1, len(sentences)), self._fill(pool.pop(), slots))
        closing = self.rnd.choice(phrases.CLOSINGS)
        if closing and _words(sentences) + len(closing.split()) <= MAX_DOC_WORDS:
            sentences.append(closing)
        return " ".join(sentences)

    # ---- document kinds ----------------------------------------------------------------

    def profile(self, s: Subject) -> Draft:
        cats = list(s.scope)
        if self.rnd.random() < 0.12:
            cats = self._outdated_categories(cats)
        brands = self._maybe_outdated_brands(s, 0.15)
        level = s.level
        if self.rnd.random() < 0.1:
            level = self._shift_level(level, self.rnd.choice((-1, 1)))
        facts = [
            self.rnd.choice(phrases.SCOPE).format(cats=self._category_list(cats)),
            self.rnd.choice(phrases.PROFILE_BRANDS).format(brands=_join(brands, self.rnd)),
            self.rnd.choice(phrases.PROFILE_SENSITIVITY[level]).format(name=s.name),
            self.rnd.choice(phrases.SCALE[s.scale_band]).format(volume=int(s.scale)),
        ]
        stated = [("categories", "|".join(sorted(cats))), ("core_brands", "|".join(brands)),
                  ("price_sensitivity", level), ("scale_band", s.scale_band)]
        if s.announced is not None:
            cat, start = s.announced
            if self.rnd.random() < OUTDATED_ANNOUNCEMENT:
                start = _shift_month(start, self.rnd.choice((-3, -2, -1, 1, 2, 3)))
            facts.append(self.rnd.choice(phrases.ANNOUNCED).format(
                cat=self._category_mention(cat), month=start.strftime("%B %Y")))
            stated.append(("announced_category", f"{cat}|{start.isoformat()}"))
        return Draft(self._title("profile", s), facts, stated)

    def reward_penalty(self, s: Subject, when: date) -> Draft:
        states = self._events(s)
        facts, stated = [], []
        for state, action in states:
            amount = self._amount(s, action)
            text = self.rnd.choice(phrases.EVENTS[(state, action)])
            facts.append(text.format(amount=self._money(amount), month=self._month_name(),
                                     quarter=self.rnd.choice(QUARTERS),
                                     days=self.rnd.randint(12, 75)))
            stated.append(("event", f"{state}|{action}|{amount}"))
        if self.rnd.random() < 0.3:
            facts.append(self.rnd.choice(phrases.WAIVED).format(
                month=self._month_name(), quarter=self.rnd.choice(QUARTERS)))
        return Draft(self._title("reward_penalty", s, when), facts, stated)

    def price_application(self, s: Subject, r: Request) -> Draft:
        facts = [
            self.rnd.choice(phrases.REQUEST).format(
                name=s.name, pct=self._percent(r.requested),
                cat=self._category_mention(r.category)),
            self.rnd.choice(phrases.COMMITMENT).format(volume=f"{r.volume:,}"),
            self.rnd.choice(phrases.APPLICATION_TONE[r.sentiment]),
        ]
        stated = [("category", r.category), ("requested_discount", f"{r.requested:.2f}"),
                  ("volume_commitment", str(r.volume)), ("sentiment", r.sentiment)]
        return Draft(self._title("price_application", s), facts, stated)

    def approval(self, s: Subject, r: Request) -> Draft:
        if not r.approved:
            outcome = "rejected"
        elif abs(r.approved_discount - r.requested) < 1e-9:
            outcome = "full"
        else:
            outcome = "partial"
        facts = [
            self.rnd.choice(phrases.DECISION[outcome]).format(
                req=self._percent(r.requested), app=self._percent(r.approved_discount),
                cat=self._category_mention(r.category)),
            self.rnd.choice(phrases.DECISION_TONE[r.decision_sentiment]),
        ]
        stated = [("approved", "true" if r.approved else "false"),
                  ("approved_discount", f"{r.approved_discount:.2f}"),
                  ("sentiment", r.decision_sentiment)]
        ceiling = s.ceiling
        if self.rnd.random() < OUTDATED_CEILING:
            ceiling = round(max(0.03, ceiling + self.rnd.choice((-0.04, -0.02, 0.02, 0.04))), 2)
        facts.append(self.rnd.choice(phrases.CEILING).format(pct=self._percent(ceiling)))
        stated.append(("discount_ceiling", f"{ceiling:.2f}"))
        for sku_id, label, units in s.locks:
            facts.append(self.rnd.choice(phrases.LOCK).format(
                units=f"{units:,}", sku=sku_id, label=label))
            stated.append(("locked_sku", f"{sku_id}|{units}"))
        return Draft(self._title("approval", s), facts, stated)

    def negotiation(self, s: Subject, when: date) -> Draft:
        level = s.level
        if self.rnd.random() < 0.3:
            level = self._shift_level(level, 1 if self.rnd.random() < 0.7 else -1)
        brands = self._maybe_outdated_brands(s, 0.2)
        facts = [
            self.rnd.choice(phrases.NEGOTIATION_SENSITIVITY[level]),
            self.rnd.choice(phrases.NEGOTIATION_BRANDS).format(brands=_join(brands, self.rnd)),
        ]
        stated = [("price_sensitivity", level), ("core_brands", "|".join(brands))]
        for cat in self.rnd.sample(s.scope, min(len(s.scope), self.rnd.randint(1, 2))):
            said = s.category_levels[cat]
            if self.rnd.random() < OVERSTATED_CATEGORY:
                said = self._shift_level(said, 1)
            facts.append(self.rnd.choice(phrases.CATEGORY_SENSITIVITY[said]).format(
                cat=self._category_mention(cat)))
            stated.append(("category_sensitivity", f"{cat}|{said}"))
        if s.wanted:
            facts.append(self.rnd.choice(phrases.WANTED_BRANDS).format(
                brands=_join(list(s.wanted), self.rnd)))
            stated.append(("wanted_brands", "|".join(sorted(s.wanted))))
        return Draft(self._title("negotiation", s, when), facts, stated)

    # ---- what the documents say --------------------------------------------------------

    def _request(self, s: Subject) -> Request:
        """An application (usually for the customer's most price-sensitive category) and verdict."""
        if self.rnd.random() < 0.6:
            cat = max(s.scope, key=lambda c: s.sensitivity[c])
        else:
            cat = self.rnd.choice(s.scope)
        requested = round(min(0.4, max(0.02, s.base_discount[cat] + 0.03
                                       + self.rnd.gauss(0, 0.02))), 2)
        volume = max(10, int(round(s.monthly_volume[cat] * 3 * self.rnd.uniform(0.9, 1.3), -1)))
        tone = {"high": (0.1, 0.3, 0.6), "medium": (0.25, 0.55, 0.2), "low": (0.6, 0.3, 0.1)}
        sentiment = self.rnd.choices(SENTIMENTS, tone[s.level])[0]
        odds = 3.0 * (s.credit - 0.55) + 1.5 * (s.loyalty - 0.6) - 8.0 * (requested - 0.12) + 0.6
        approved = requested <= s.ceiling and self.rnd.random() < 1.0 / (1.0 + np.exp(-odds))
        granted = 0.0
        if approved:
            granted = round(min(requested, max(0.01, s.base_discount[cat]
                                               + self.rnd.gauss(0, 0.01))), 2)
        verdict = "positive" if granted == requested else ("neutral" if approved else "negative")
        if self.rnd.random() < 0.15:
            verdict = self.rnd.choice(SENTIMENTS)
        return Request(cat, requested, volume, sentiment, approved, granted, verdict)

    def _events(self, s: Subject) -> list[tuple[str, str]]:
        """1-3 distinct reward/penalty events, their odds following the customer's traits."""
        level = PRICE_SENSITIVITY_LEVELS.index(s.level)
        weights = {
            ("sales_target_met", "reward"): 0.3 + 0.4 * s.loyalty,
            ("late_payment", "penalty"): 0.05 + 0.6 * (1.0 - s.credit),
            ("price_violation", "penalty"): 0.05 + 0.2 * level,
            ("display_compliance", "reward"): 0.3 * s.loyalty,
            ("display_compliance", "penalty"): 0.1,
            ("cross_region_selling", "penalty"): 0.05 + (0.2 if s.scale_band == "large" else 0.0),
            ("returns_excess", "penalty"): 0.12,
        }
        chosen: list[tuple[str, str]] = []
        for _ in range(self.rnd.randint(1, 3)):
            options = [k for k in weights if k[0] not in {c[0] for c in chosen}]
            chosen.append(self.rnd.choices(options, [weights[k] for k in options])[0])
        return chosen

    def _amount(self, s: Subject, action: str) -> int:
        factor = self.rnd.uniform(20, 60) if action == "reward" else self.rnd.uniform(10, 45)
        return max(100, int(round(s.scale * factor / 50.0)) * 50)

    def _maybe_outdated_brands(self, s: Subject, chance: float) -> list[str]:
        """The core brand list, or with `chance` an old one with a brand swapped out."""
        brands = list(s.core)
        others = [b for b in self.brands if b not in brands]
        if brands and others and self.rnd.random() < chance:
            brands[self.rnd.randrange(len(brands))] = self.rnd.choice(others)
        return sorted(brands)

    def _outdated_categories(self, cats: list[str]) -> list[str]:
        """An old scope: one category dropped, or one the customer no longer trades added."""
        outside = [c for c in self.categories if c not in cats]
        if len(cats) > 2 and (not outside or self.rnd.random() < 0.5):
            dropped = self.rnd.choice(cats)
            cats = [c for c in cats if c != dropped]
        elif outside:
            cats = [*cats, self.rnd.choice(outside)]
        return cats

    @staticmethod
    def _shift_level(level: str, step: int) -> str:
        i = PRICE_SENSITIVITY_LEVELS.index(level) + step
        return PRICE_SENSITIVITY_LEVELS[min(max(i, 0), len(PRICE_SENSITIVITY_LEVELS) - 1)]

    # ---- wording -----------------------------------------------------------------------

    def _category_mention(self, cat: str) -> str:
        """A category by name, by name plus examples, or only through its subcategories."""
        subs = [x.lower() for x in self.secondaries[cat]]
        style = self.rnd.random()
        if style < 0.45 or not subs:
            return cat.lower() if self.rnd.random() < 0.5 else cat
        picks = self.rnd.sample(subs, min(len(subs), self.rnd.randint(1, 2)))
        if style < 0.8:
            return f"{cat.lower()} (mainly {_join(picks, self.rnd)})"
        return f"{_join(picks, self.rnd)} and related {cat.lower()} lines"

    def _category_list(self, cats: list[str]) -> str:
        mentions = [self._category_mention(c) for c in cats]
        self.rnd.shuffle(mentions)
        return _join(mentions, self.rnd)

    def _percent(self, fraction: float) -> str:
        pct = int(round(fraction * 100))
        return self.rnd.choice((f"{pct}%", f"{pct} percent", f"{pct} per cent"))

    def _money(self, amount: int) -> str:
        return self.rnd.choice((f"{amount:,}", f"{amount}", f"{amount:,} in local currency"))

    def _month_name(self) -> str:
        return self.rnd.choice(self.months).strftime("%B %Y")

    def _date(self) -> date:
        return self.months[0] + timedelta(days=self.rnd.randrange(self.span_days))

    def _title(self, kind: str, s: Subject, when: date | None = None) -> str:
        month = (when or self.months[0]).strftime("%B %Y")
        year = (when or self.months[0]).year
        return self.rnd.choice(phrases.TITLES[kind]).format(name=s.name, month=month, year=year)

    def _slots(self, s: Subject, when: date, draft: Draft) -> dict[str, str]:
        """Values for distractor slots, chosen so no distractor states a competing fact."""
        mentioned = " ".join(draft.facts).lower()
        spare = [b for b in self.brands if b not in s.core and b not in s.wanted
                 and b.lower() not in mentioned]
        announced = s.announced[0] if s.announced else None
        outside = [c for c in self.categories
                   if c not in s.scope and c != announced and not self._mentioned(c, mentioned)]
        return {
            "name": s.name, "a_ctype": ("an " if s.ctype[0] in "aeiou" else "a ") + s.ctype,
            "city": s.city, "region": s.region,
            "years": str(s.years), "year": str(when.year - self.rnd.randint(1, 4)),
            "small": str(self.rnd.randint(3, 14)), "terms": self.rnd.choice(("30", "45", "60")),
            "other_city": self.rnd.choice([c for c in self.cities if c != s.city] or [""]),
            "competitor": self.rnd.choice(COMPETITOR_BRANDS), "month": self._month_name(),
            "brand": self.rnd.choice(spare) if spare else "",
            "other_category": self.rnd.choice(outside).lower() if outside else "",
            "old_pct": self._percent(self.rnd.randint(3, 20) / 100),
            "credit_limit": f"{int(s.credit_limit):,}",
        }

    def _mentioned(self, cat: str, text: str) -> bool:
        """Whether the (lower-cased) text names the category or any of its subcategories."""
        return any(w.lower() in text for w in (cat, *self.secondaries[cat]))

    @staticmethod
    def _fits(template: str, slots: dict[str, str]) -> bool:
        """False if the template needs an optional slot this customer has no value for."""
        optional = ("brand", "other_category", "other_city")
        return all(slots[k] or f"{{{k}}}" not in template for k in optional)

    @staticmethod
    def _fill(template: str, slots: dict[str, str]) -> str:
        text = template.format(**slots)
        return text[0].upper() + text[1:]


def _join(items: list[str], rnd: random.Random) -> str:
    """'a', 'a and b', 'a, b and c' (sometimes with an Oxford comma)."""
    if len(items) <= 1:
        return "".join(items)
    comma = "," if len(items) > 2 and rnd.random() < 0.4 else ""
    return ", ".join(items[:-1]) + f"{comma} and {items[-1]}"


def _shift_month(month: date, step: int) -> date:
    y, m = divmod(month.month - 1 + step, 12)
    return date(month.year + y, m + 1, 1)


def _words(sentences: list[str]) -> int:
    return sum(len(x.split()) for x in sentences)


def subjects(customers: Customers, base_discount: np.ndarray,
             monthly_volume: np.ndarray, categories: list[str],
             brands: list[str], months: list[date],
             locks: dict[int, list[tuple[str, str, int]]]) -> list[Subject]:
    """One Subject per customer, from the latent traits and the logged policy.

    `months` maps an announcement's month index to its date (it may lie past the
    history); `locks` lists each customer's locked SKUs.
    """
    level, band = customers.sensitivity_level(), customers.scale_band()
    cat_levels = customers.category_sensitivity_level()
    limits = customers.frame["credit_limit"].to_numpy()
    ann = customers.announced
    out = []
    for k, cid in enumerate(customers.ids):
        scope = tuple(c for j, c in enumerate(categories) if customers.in_scope[k, j])
        announced = (None if ann.category[k] < 0
                     else (categories[ann.category[k]], months[int(ann.start[k])]))
        out.append(Subject(
            customer_id=cid, name=customers.names[k], city=customers.city[k],
            region=customers.region[k], ctype=customers.customer_type[k],
            years=int(customers.years_active[k]), scale=float(customers.scale[k]),
            scale_band=str(band[k]), level=str(level[k]), scope=scope,
            core=tuple(sorted(b for j, b in enumerate(brands) if customers.core_brand[k, j])),
            credit=float(customers.credit[k]), loyalty=float(customers.loyalty[k]),
            credit_limit=float(limits[k]),
            sensitivity=dict(zip(categories, customers.sensitivity[k].tolist(), strict=True)),
            base_discount=dict(zip(categories, base_discount[k].tolist(), strict=True)),
            monthly_volume=dict(zip(categories, monthly_volume[k].tolist(), strict=True)),
            category_levels=dict(zip(categories, cat_levels[k].tolist(), strict=True)),
            announced=announced,
            wanted=tuple(sorted(b for j, b in enumerate(brands) if customers.wanted_brand[k, j])),
            ceiling=float(customers.ceiling[k]), locks=tuple(locks.get(k, ())),
        ))
    return out


def write_documents(
    spec: WorldSpec, subjects_: list[Subject], skus: Skus, cities: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(raw_documents, document_facts) for every customer."""
    writer = Writer(spec, skus, cities)
    docs: dict[str, list] = {c.name: [] for c in RAW_DOCUMENTS.columns}
    facts: dict[str, list[str]] = {c: [] for c in FACT_COLUMNS}
    for s in subjects_:
        for doc_id, kind, when, draft in writer.customer_documents(s, spec.docs_per_customer):
            text = writer.assemble(s, draft, when)
            for key, value in (("doc_id", doc_id), ("customer_id", s.customer_id),
                               ("doc_type", kind), ("doc_date", when), ("title", draft.title),
                               ("text", text), ("content_hash", content_hash(draft.title, text))):
                docs[key].append(value)
            for field, value in draft.stated:
                for key, v in zip(FACT_COLUMNS, (doc_id, s.customer_id, kind, field, value),
                                  strict=True):
                    facts[key].append(v)
    return (pl.DataFrame(docs, schema=RAW_DOCUMENTS.polars_schema()),
            pl.DataFrame(facts, schema={c: pl.String for c in FACT_COLUMNS}))


def content_hash(title: str, text: str) -> str:
    """sha256 hex of title + newline + text: changes exactly when the document does."""
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
