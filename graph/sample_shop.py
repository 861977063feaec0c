"""A small, realistic, deterministic shop of the project's own, with planted user interests.

Items get English titles (brand + adjective + product noun + spec) across a category
tree, log-normal prices per category and a description. Users belong to one or two
themes (a woodworker, a home cook, ...) that give them interests in one to three leaf
categories and a price sensitivity; their sessions over six months search with query
text drawn from those interests (with case variants and typos), view and click items,
add some to the cart and buy fewer, so items of one category (and of one theme) are
linked by co-purchase. Activity per user is heavy-tailed. The same seed gives the same
files, byte for byte.
"""
from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.graph.shop_data import ShopData
from personagraph.graph.shop_reader import EVENT_COLUMNS, ITEM_COLUMNS, TABLE_FORMATS, shop_from_rows


@dataclass(frozen=True)
class _Area:
    """A top-level area: its brands, words and leaf categories (path, noun, specs, median price)."""

    name: str
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    uses: tuple[str, ...]
    leaves: tuple[tuple[str, str, tuple[str, ...], float], ...]


AREAS: tuple[_Area, ...] = (
    _Area("Tools", ("Voltaro", "Hartwell", "Ironbark", "Stanwick", "Koda"),
          ("Cordless", "Heavy-Duty", "Compact", "Professional", "Brushless", "Ergonomic"),
          ("woodworking", "home renovation", "metal work"), (
        ("Power Tools > Drills", "Drill Driver", ("18V Kit", "12V", "with 2 Batteries", "Hammer Action"), 110.0),
        ("Power Tools > Saws", "Circular Saw", ("185 mm", "1400W", "with Laser Guide", "Plunge Cut"), 140.0),
        ("Power Tools > Sanders", "Orbital Sander", ("125 mm", "300W", "with Dust Bag", "Variable Speed"), 75.0),
        ("Hand Tools > Hammers", "Claw Hammer", ("16 oz", "20 oz", "Fibreglass Handle", "Anti-Vibration"), 22.0),
        ("Hand Tools > Screwdrivers", "Screwdriver Set", ("6 Piece", "12 Piece", "Magnetic Tips", "Precision"), 25.0),
        ("Hand Tools > Wrenches", "Adjustable Wrench", ("8 inch", "10 inch", "Wide Jaw", "Set of 3"), 28.0),
        ("Sanding > Rolls", "Sanding Roll", ("P120 5 m", "P80 10 m", "P240 25 m", "Mixed Grit"), 18.0),
        ("Sanding > Discs", "Sanding Disc Pack", ("125 mm P80", "125 mm P120", "Hook and Loop 50 Pack", "Mesh"), 15.0),
    )),
    _Area("Lab", ("Labwise", "Pyrolab", "Meridian Scientific", "Vitrum", "Cleargrade"),
          ("Borosilicate", "Graduated", "Autoclavable", "Chemical-Resistant", "Precision", "Disposable"),
          ("teaching labs", "chemistry", "sample preparation"), (
        ("Glassware > Beakers", "Beaker", ("250 ml", "500 ml", "1000 ml", "Set of 5"), 18.0),
        ("Glassware > Flasks", "Erlenmeyer Flask", ("100 ml", "250 ml", "500 ml", "Narrow Neck"), 16.0),
        ("Glassware > Test Tubes", "Test Tube Set", ("16 x 150 mm", "Pack of 100", "with Rack", "Screw Cap"), 20.0),
        ("Liquid Handling > Pipettes", "Micropipette", ("10-100 ul", "100-1000 ul", "Single Channel", "8 Channel"), 160.0),
        ("Liquid Handling > Pipette Tips", "Pipette Tips", ("200 ul Pack of 1000", "1000 ul Racked", "Filtered", "Sterile"), 30.0),
        ("Safety > Gloves", "Nitrile Gloves", ("Size M Box of 100", "Size L Box of 100", "Powder-Free", "Extended Cuff"), 14.0),
        ("Safety > Goggles", "Safety Goggles", ("Anti-Fog", "Indirect Vent", "Over-Glasses", "UV Protection"), 12.0),
        ("Instruments > Scales", "Analytical Balance", ("0.001 g", "220 g", "with Calibration Weight", "Compact"), 420.0),
        ("Instruments > pH Meters", "pH Meter", ("Pocket", "Benchtop", "with Buffer Solutions", "Waterproof"), 65.0),
    )),
    _Area("Kitchen", ("Casaroma", "Ferrum & Co", "Brightbake", "Oakhaus", "Nordkoch"),
          ("Non-Stick", "Stainless Steel", "Cast Iron", "Induction-Ready", "Dishwasher-Safe", "Classic"),
          ("everyday cooking", "baking", "family meals"), (
        ("Cookware > Frying Pans", "Frying Pan", ("24 cm", "28 cm", "with Lid", "Set of 2"), 40.0),
        ("Cookware > Saucepans", "Saucepan", ("16 cm", "20 cm", "Set of 3", "with Glass Lid"), 45.0),
        ("Cookware > Dutch Ovens", "Dutch Oven", ("4 l", "6 l", "Enamelled", "Round"), 90.0),
        ("Knives > Chef Knives", "Chef Knife", ("20 cm", "Damascus Steel", "with Sheath", "Santoku Style"), 60.0),
        ("Knives > Knife Sharpeners", "Knife Sharpener", ("Whetstone 1000/6000", "3-Stage", "Electric", "Honing Rod"), 25.0),
        ("Appliances > Blenders", "Blender", ("1200W", "1.5 l Jug", "with To-Go Cups", "High Speed"), 85.0),
        ("Appliances > Kettles", "Electric Kettle", ("1.7 l", "Temperature Control", "Cordless", "Glass"), 35.0),
        ("Appliances > Coffee Makers", "Coffee Maker", ("12 Cup", "with Grinder", "Pour-Over", "Espresso 15 bar"), 110.0),
    )),
    _Area("Garden", ("Greenlea", "Terravida", "Hedgecraft", "Bloomfield", "Rainmaker"),
          ("Weatherproof", "Lightweight", "Expandable", "Organic", "Galvanised", "Frost-Proof"),
          ("vegetable gardens", "lawns", "balcony plants"), (
        ("Watering > Hoses", "Garden Hose", ("15 m", "30 m", "with Spray Gun", "Kink-Free"), 35.0),
        ("Watering > Sprinklers", "Lawn Sprinkler", ("Oscillating", "Rotating", "Timer Controlled", "360 Degree"), 25.0),
        ("Planting > Seeds", "Seed Collection", ("Tomato 6 Varieties", "Herb Mix", "Wildflower", "Salad Leaves"), 8.0),
        ("Planting > Pots", "Plant Pot", ("30 cm", "Set of 3", "Self-Watering", "Terracotta"), 20.0),
        ("Planting > Compost", "Compost", ("40 l", "Peat-Free 50 l", "Seed Starting", "Ericaceous"), 12.0),
        ("Garden Tools > Pruners", "Pruning Shears", ("Bypass", "Anvil", "Ratchet", "Telescopic"), 24.0),
        ("Garden Tools > Rakes", "Garden Rake", ("16 Tine", "Leaf", "Telescopic Handle", "Steel Head"), 22.0),
    )),
    _Area("Electronics", ("Lumatek", "Sonique", "Kestrel", "Ampline", "Novabyte"),
          ("Wireless", "Noise-Cancelling", "Ultra-Slim", "Fast-Charging", "Bluetooth", "Backlit"),
          ("home offices", "gaming", "travel"), (
        ("Audio > Headphones", "Headphones", ("Over-Ear", "40 h Battery", "with Microphone", "Foldable"), 80.0),
        ("Audio > Speakers", "Portable Speaker", ("20W", "Waterproof IPX7", "Stereo Pair", "with Radio"), 55.0),
        ("Computer Accessories > Keyboards", "Keyboard", ("Mechanical", "Tenkeyless", "UK Layout", "Low Profile"), 60.0),
        ("Computer Accessories > Mice", "Mouse", ("Ergonomic Vertical", "16000 DPI", "Silent Click", "Travel"), 30.0),
        ("Computer Accessories > USB Hubs", "USB-C Hub", ("7-in-1", "with HDMI 4K", "4 Port", "100W PD"), 35.0),
        ("Power > Batteries", "Rechargeable Batteries", ("AA Pack of 8", "AAA Pack of 4", "2800 mAh", "Low Self-Discharge"), 20.0),
        ("Power > Chargers", "Wall Charger", ("65W GaN", "Dual Port", "USB-C 30W", "Travel Adapter"), 30.0),
    )),
    _Area("Office", ("Quillmark", "Paperhaus", "Ledger & Line", "Inkwell", "Deskly"),
          ("Recycled", "A4", "Refillable", "Fine-Tip", "Heavyweight", "Stackable"),
          ("offices", "school", "note taking"), (
        ("Paper > Notebooks", "Notebook", ("A5 Dotted", "A4 Ruled", "Hardcover 192 Pages", "Pack of 3"), 12.0),
        ("Paper > Printer Paper", "Printer Paper", ("80 gsm 500 Sheets", "Box of 5 Reams", "100 gsm", "Colour Mix"), 25.0),
        ("Writing > Pens", "Gel Pen Set", ("0.5 mm", "Pack of 10", "Black Ink", "Assorted Colours"), 9.0),
        ("Writing > Markers", "Whiteboard Markers", ("Pack of 4", "Chisel Tip", "Low Odour", "Magnetic Cap"), 8.0),
        ("Organisation > Folders", "Ring Binder", ("A4 2 Ring", "Lever Arch", "Pack of 5", "Presentation"), 10.0),
        ("Organisation > Desk Organisers", "Desk Organiser", ("Bamboo", "Mesh 5 Compartment", "Drawer Set", "Rotating"), 20.0),
    )),
    _Area("Outdoors", ("Trailhead", "Northpeak", "Cascadia", "Velocita", "Summitry"),
          ("Ultralight", "Waterproof", "Insulated", "Reflective", "Breathable", "Packable"),
          ("hiking", "camping trips", "commuting"), (
        ("Camping > Tents", "Tent", ("2 Person", "4 Person", "Pop-Up", "3 Season"), 130.0),
        ("Camping > Sleeping Bags", "Sleeping Bag", ("-5 C Comfort", "Mummy", "Down Fill", "Double"), 70.0),
        ("Camping > Headlamps", "Headlamp", ("400 Lumen", "Rechargeable", "Red Light Mode", "Motion Sensor"), 25.0),
        ("Fitness > Yoga Mats", "Yoga Mat", ("6 mm", "Non-Slip", "with Carry Strap", "Cork"), 30.0),
        ("Fitness > Dumbbells", "Dumbbell Set", ("2 x 5 kg", "Adjustable 20 kg", "Neoprene", "Hex"), 50.0),
        ("Cycling > Bike Lights", "Bike Light Set", ("USB Rechargeable", "800 Lumen", "Tail Light", "Helmet Mount"), 28.0),
        ("Cycling > Helmets", "Cycling Helmet", ("Size M", "MIPS", "with Visor", "Road"), 65.0),
    )),
)

#: Personas that tie leaf categories together, possibly across areas (woodworkers buy goggles too).
THEMES: tuple[tuple[str, ...], ...] = (
    ("Tools > Power Tools > Drills", "Tools > Power Tools > Saws", "Tools > Power Tools > Sanders",
     "Tools > Sanding > Rolls", "Tools > Sanding > Discs", "Lab > Safety > Goggles"),
    ("Tools > Hand Tools > Hammers", "Tools > Hand Tools > Screwdrivers", "Tools > Hand Tools > Wrenches",
     "Tools > Power Tools > Drills", "Electronics > Power > Batteries"),
    ("Lab > Glassware > Beakers", "Lab > Glassware > Flasks", "Lab > Glassware > Test Tubes",
     "Lab > Safety > Gloves", "Lab > Safety > Goggles", "Lab > Instruments > pH Meters"),
    ("Lab > Liquid Handling > Pipettes", "Lab > Liquid Handling > Pipette Tips", "Lab > Instruments > Scales",
     "Lab > Safety > Gloves"),
    ("Kitchen > Cookware > Frying Pans", "Kitchen > Cookware > Saucepans", "Kitchen > Cookware > Dutch Ovens",
     "Kitchen > Knives > Chef Knives", "Kitchen > Knives > Knife Sharpeners"),
    ("Kitchen > Appliances > Blenders", "Kitchen > Appliances > Kettles", "Kitchen > Appliances > Coffee Makers"),
    ("Garden > Watering > Hoses", "Garden > Watering > Sprinklers", "Garden > Garden Tools > Rakes",
     "Garden > Garden Tools > Pruners"),
    ("Garden > Planting > Seeds", "Garden > Planting > Pots", "Garden > Planting > Compost",
     "Kitchen > Knives > Chef Knives"),
    ("Electronics > Computer Accessories > Keyboards", "Electronics > Computer Accessories > Mice",
     "Electronics > Computer Accessories > USB Hubs", "Electronics > Power > Chargers",
     "Office > Organisation > Desk Organisers"),
    ("Electronics > Audio > Headphones", "Electronics > Audio > Speakers", "Electronics > Power > Chargers",
     "Outdoors > Fitness > Yoga Mats"),
    ("Office > Paper > Notebooks", "Office > Writing > Pens", "Office > Writing > Markers",
     "Office > Organisation > Folders", "Office > Paper > Printer Paper"),
    ("Outdoors > Camping > Tents", "Outdoors > Camping > Sleeping Bags", "Outdoors > Camping > Headlamps",
     "Electronics > Power > Batteries"),
    ("Outdoors > Cycling > Bike Lights", "Outdoors > Cycling > Helmets", "Outdoors > Fitness > Dumbbells",
     "Outdoors > Fitness > Yoga Mats"),
)

#: The logs cover six months from here.
START = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
SPAN_SECONDS = 181 * 24 * 3600
PRICE_SIGMA = 0.45  # spread of log price within a category


@dataclass
class SampleShop:
    """A generated shop and the truth planted in it.

    ``interests`` maps each user id to the leaf category paths it was given and their
    weights (summing to 1); ``price_sensitivity`` is in [0, 1] (1 = prefers cheap items).
    ``files`` lists what was written (empty when nothing was).
    """

    shop: ShopData
    interests: dict[str, dict[str, float]]
    price_sensitivity: dict[str, float]
    files: list[Path] = field(default_factory=list)


@dataclass
class _Catalogue:
    """Generated items as columns, plus per-leaf item lists for fast sampling."""

    rows: list[dict[str, object]]
    leaf_items: dict[str, np.ndarray]  # leaf path -> item indices
    popularity: np.ndarray  # per item, relative
    log_price_z: np.ndarray  # per item, how expensive for its category (0 when unknown)
    brand: list[str]
    adjective: list[str]


def generate_sample_shop(
    out_dir: str | Path | None = None,
    *,
    users: int = 3000,
    items: int = 1000,
    seed: int = 0,
    fmt: str = "csv",
    progress: bool = False,
) -> SampleShop:
    """Generate the sample shop; write ``items.<fmt>`` and ``events.<fmt>`` to ``out_dir`` if given.

    The rows pass through the same validation as :func:`read_shop`, so the returned
    ``shop`` equals what reading the written files gives.
    """
    if fmt not in TABLE_FORMATS:
        raise PersonaGraphError(f"unknown format {fmt!r}; use one of {', '.join(TABLE_FORMATS)}")
    if users < 1 or items < 1:
        raise PersonaGraphError("the sample needs at least one user and one item")
    rng = np.random.default_rng(seed)
    catalogue = _generate_items(rng, items)
    events, interests, sensitivity = _generate_events(rng, catalogue, users, progress)
    shop = shop_from_rows(catalogue.rows, events)
    files = _write(Path(out_dir), fmt, catalogue.rows, events) if out_dir is not None else []
    return SampleShop(shop=shop, interests=interests, price_sensitivity=sensitivity, files=files)


def _leaves() -> list[tuple[_Area, str, str, tuple[str, ...], float]]:
    return [(area, f"{area.name} > {path}", noun, specs, price)
            for area in AREAS for path, noun, specs, price in area.leaves]


def _generate_items(rng: np.random.Generator, count: int) -> _Catalogue:
    leaves = _leaves()
    # every leaf gets an item while there are enough, the rest go to leaves of uneven size
    sizes = np.zeros(len(leaves), dtype=np.int64)
    sizes[rng.permutation(len(leaves))[: min(count, len(leaves))]] = 1
    weights = rng.gamma(2.0, 1.0, len(leaves))
    sizes += rng.multinomial(count - int(sizes.sum()), weights / weights.sum())
    width = len(str(count))
    rows: list[dict[str, object]] = []
    leaf_items: dict[str, np.ndarray] = {}
    popularity, log_price_z, brands, adjectives = [], [], [], []
    for (area, path, noun, specs, median), size in zip(leaves, sizes):
        leaf_items[path] = np.arange(len(rows), len(rows) + size)
        ranks = rng.permutation(size) + 1
        for rank in ranks:
            brand = str(rng.choice(area.brands))
            adjective = str(rng.choice(area.adjectives))
            spec = str(rng.choice(specs))
            z = float(rng.normal())
            price = round(float(median * np.exp(PRICE_SIGMA * z)), 2)
            price = max(round(price) - 0.01, 0.49) if price >= 5 else price
            known_price = rng.random() >= 0.02
            article = "An" if adjective[0] in "AEIOU" else "A"
            rows.append({
                "item_id": f"i{len(rows) + 1:0{width}d}",
                "title": f"{brand} {adjective} {noun} {spec}",
                "description": f"{article} {adjective.lower()} {noun.lower()} ({spec}) by {brand}, "
                               f"made for {rng.choice(area.uses)}.",
                "category": path,
                "brand": brand,
                "price": price if known_price else None,
            })
            popularity.append(1.0 / rank)
            log_price_z.append(z if known_price else 0.0)
            brands.append(brand)
            adjectives.append(adjective)
    return _Catalogue(rows, leaf_items, np.asarray(popularity), np.asarray(log_price_z), brands, adjectives)


def _generate_events(
    rng: np.random.Generator, catalogue: _Catalogue, users: int, progress: bool
) -> tuple[list[dict[str, object]], dict[str, dict[str, float]], dict[str, float]]:
    active = [path for path, members in catalogue.leaf_items.items() if len(members)]
    themes = [[path for path in theme if path in catalogue.leaf_items and len(catalogue.leaf_items[path])]
              for theme in THEMES]
    themes = [theme for theme in themes if theme] or [active]
    nouns = {path: noun for _, path, noun, _, _ in _leaves()}
    width = len(str(users))
    timed: list[tuple[float, int, dict[str, object]]] = []
    interests: dict[str, dict[str, float]] = {}
    sensitivity: dict[str, float] = {}
    for number in tqdm(range(1, users + 1), desc="users", disable=not progress, file=sys.stderr):
        user_id = f"u{number:0{width}d}"
        chosen_themes = rng.choice(len(themes), size=1 + int(rng.random() < 0.3), replace=False)
        pool = list(dict.fromkeys(path for t in chosen_themes for path in themes[t]))
        leaves = [pool[i] for i in rng.choice(len(pool), size=min(len(pool), int(rng.integers(1, 4))), replace=False)]
        weights = rng.dirichlet(np.full(len(leaves), 2.0))
        interests[user_id] = {leaf: float(w) for leaf, w in zip(leaves, weights)}
        sensitivity[user_id] = float(rng.beta(2.0, 2.0))
        sessions = min(1 + int(rng.pareto(1.6) * 2.0), 60)  # heavy-tailed activity
        for start in np.sort(START + rng.random(sessions) * SPAN_SECONDS):
            leaf = leaves[rng.choice(len(leaves), p=weights)] if rng.random() < 0.92 else str(rng.choice(active))
            for event in _session(rng, catalogue, leaf, nouns[leaf], sensitivity[user_id]):
                start += float(rng.exponential(45.0)) + 1.0
                timed.append((start, len(timed), {"user_id": user_id, **event}))
    timed.sort(key=lambda entry: entry[:2])  # the shop's log is in time order
    rows = [{"user_id": row["user_id"], "event": row["event"], "timestamp": _iso(time),
             "item_id": row.get("item_id", ""), "query": row.get("query", "")} for time, _, row in timed]
    return rows, interests, sensitivity


def _session(rng: np.random.Generator, catalogue: _Catalogue, leaf: str, noun: str,
             price_sensitivity: float) -> list[dict[str, object]]:
    """One visit: maybe a search, a few views (some via clicks), some carts, fewer purchases."""
    members = catalogue.leaf_items[leaf]
    preference = catalogue.popularity[members] * np.exp(-1.5 * price_sensitivity * catalogue.log_price_z[members])
    events: list[dict[str, object]] = []
    viewed: list[int] = []
    if rng.random() < 0.5:
        query, brand = _query(rng, catalogue, members, leaf, noun)
        boosted = preference * np.where([catalogue.brand[i] == brand for i in members], 4.0, 1.0)
        search: dict[str, object] = {"event": "search", "query": query}
        if rng.random() < 0.55:  # clicked a result
            item = int(rng.choice(members, p=boosted / boosted.sum()))
            search["item_id"] = catalogue.rows[item]["item_id"]
            viewed.append(item)
        events.append(search)
        if viewed:
            events.append({"event": "view", "item_id": search["item_id"]})
    for _ in range(int(rng.geometric(0.45))):
        item = int(rng.choice(members, p=preference / preference.sum()))
        item_id = catalogue.rows[item]["item_id"]
        if rng.random() < 0.3:  # arrived from a recommendation or listing click
            events.append({"event": "click", "item_id": item_id})
        events.append({"event": "view", "item_id": item_id})
        viewed.append(item)
    carted = [item for item in dict.fromkeys(viewed) if rng.random() < 0.16]
    events.extend({"event": "add_to_cart", "item_id": catalogue.rows[item]["item_id"]} for item in carted)
    events.extend({"event": "purchase", "item_id": catalogue.rows[item]["item_id"]}
                  for item in carted if rng.random() < 0.55)
    return events


def _query(rng: np.random.Generator, catalogue: _Catalogue, members: np.ndarray, leaf: str,
           noun: str) -> tuple[str, str]:
    """Search text for a leaf: its name, product noun, a brand, an adjective; sometimes
    with a typo or in other case. Returns the text and the brand it names (or "")."""
    item = int(rng.choice(members))
    brand = catalogue.brand[item] if rng.random() < 0.25 else ""
    parts = leaf.split(" > ")
    choices = [parts[-1].lower(), noun.lower(), f"{noun.lower()}s", parts[1].lower(),
               f"{catalogue.adjective[item].lower()} {noun.lower()}"]
    text = str(choices[int(rng.integers(len(choices)))])
    if brand:
        text = f"{brand.lower()} {text}"
    if rng.random() < 0.08:
        text = _typo(rng, text)
    variant = rng.random()
    if variant < 0.1:
        text = text.title()
    elif variant < 0.13:
        text = text.upper()
    return text, brand


def _typo(rng: np.random.Generator, text: str) -> str:
    at = int(rng.integers(1, max(len(text) - 1, 2)))
    if rng.random() < 0.5:  # swap two letters
        return text[: at - 1] + text[at] + text[at - 1] + text[at + 1:]
    return text[:at] + text[at + 1:]  # drop a letter


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(out_dir: Path, fmt: str, items: list[dict[str, object]], events: list[dict[str, object]]) -> list[Path]:
    clashing = [path.name for name in ("items", "events") for ext in TABLE_FORMATS if ext != fmt
                for path in [out_dir / f"{name}.{ext}"] if path.exists()]
    if clashing:
        raise PersonaGraphError(
            f"{out_dir} already holds {', '.join(clashing)}; a data folder keeps one format per table, "
            "so remove those or choose another --out"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows, columns in (("items", items, ITEM_COLUMNS), ("events", events, EVENT_COLUMNS)):
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(columns)
                writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
        elif fmt == "jsonl":
            with path.open("w", encoding="utf-8") as handle:
                handle.writelines(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n"
                                  for row in rows)
        else:
            table = pa.table({c: [row.get(c) for row in rows] for c in columns})
            pq.write_table(table, path)
        written.append(path)
    return written


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)
