"""Deterministic sample raw data for the demo, tests and benchmarks (no network, no Spark)."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

COUNTRIES = ["GB", "FR", "DE", "ES", "IT", "NL"]
SALES_HEADER = ["order_id", "customer_id", "order_date", "country", "amount", "quantity"]


def write_sales_csv(
    folder: str | Path,
    *,
    rows: int = 5000,
    files: int = 4,
    seed: int = 7,
    bad_rows: int = 6,
) -> dict[str, int]:
    """Write ``files`` CSV files of sales under ``folder``; ``bad_rows`` of them are malformed.

    The bad rows alternate between a non-numeric amount, a bad date and a short line, so the
    quarantine path is exercised. Returns the counts written (good, bad, total).
    """
    rng = random.Random(seed)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    start = date(2024, 1, 1)
    per_file = max(1, rows // files)
    bad_positions = set(rng.sample(range(rows), min(bad_rows, rows)))
    written = 0
    bad_written = 0
    for f in range(files):
        n = per_file if f < files - 1 else rows - per_file * (files - 1)
        with open(out / f"sales-{f:04d}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(SALES_HEADER)
            for _ in range(n):
                order_id = written + 1
                row = [
                    str(order_id),
                    f"C{rng.randint(1, 800):05d}",
                    (start + timedelta(days=rng.randint(0, 180))).isoformat(),
                    rng.choice(COUNTRIES),
                    f"{rng.uniform(1, 500):.2f}",
                    str(rng.randint(1, 9)),
                ]
                if written in bad_positions:
                    kind = bad_written % 3
                    if kind == 0:
                        row[4] = "twelve"
                    elif kind == 1:
                        row[2] = "2024-13-45"
                    else:
                        row = row[:3]
                    bad_written += 1
                writer.writerow(row)
                written += 1
    return {"good": written - bad_written, "bad": bad_written, "total": written}


# --------------------------------------------------------------------------- bank marketing

FIRST_NAMES = [
    "james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david",
    "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
    "charles", "karen", "christopher", "lisa", "daniel", "nancy", "matthew", "betty", "anthony",
    "sandra", "mark", "margaret", "donald", "ashley", "steven", "kimberly", "andrew", "emily",
    "paul", "donna", "joshua", "michelle", "kenneth", "carol", "kevin", "amanda", "brian",
    "melissa", "george", "deborah", "timothy", "stephanie", "ronald", "rebecca", "jason", "sharon",
]
LAST_NAMES = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright",
    "scott", "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker", "hall",
    "rivera", "campbell", "mitchell", "carter", "roberts", "okafor", "kowalski", "fernandes",
]
JOBS = ["admin.", "blue-collar", "entrepreneur", "housemaid", "management", "retired",
        "self-employed", "services", "student", "technician", "unemployed", "unknown"]
MARITAL = ["divorced", "married", "single", "unknown"]
EDUCATION = ["basic.4y", "basic.6y", "basic.9y", "high.school", "illiterate",
             "professional.course", "university.degree", "unknown"]
POUTCOME = ["failure", "nonexistent", "success"]
DAYS = ["mon", "tue", "wed", "thu", "fri"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

CUSTOMER_HEADER = [
    "customer_id", "first_name", "last_name", "date_of_birth", "email", "phone", "postcode",
    "job", "marital", "education", "default", "housing", "loan", "fax_number",
]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transpose
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:  # drop a letter
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i + 1 :]


def write_bank_marketing(
    lake_root: str | Path,
    *,
    customers: int = 2000,
    seed: int = 42,
    duplicate_rate: float = 0.15,
    contacts_per_customer: float = 2.5,
    days: int = 12,
    start: date = date(2024, 5, 1),
) -> dict[str, object]:
    """Write the bank-marketing raw zone under ``<lake_root>/raw`` (deterministic for a seed).

    * ``raw/customers/customers-*.csv``: one row per source record; ``duplicate_rate`` of the
      entities appear again with typos, swapped names, missing values and a new customer_id;
      ``fax_number`` is null everywhere; a few malformed lines.
    * ``raw/contacts/dt=YYYY-MM-DD/part-*.json``: campaign contacts as JSON lines, one folder
      per day; the last day adds an extra column (``channel``); a few malformed lines.
    * ``raw/indicators/indicators-YYYY.csv``: monthly economic indicators.
    * ``metadata/ground_truth/customers_entities.csv``: customer_id -> true entity id, kept
      out of the raw zone so the crawler never sees it.

    Returns counts of what was written.
    """
    rng = random.Random(seed)
    root = Path(lake_root)
    raw = root / "raw"
    cust_dir, contact_dir, ind_dir = raw / "customers", raw / "contacts", raw / "indicators"
    truth_dir = root / "metadata" / "ground_truth"
    for directory in (cust_dir, contact_dir, ind_dir, truth_dir):
        directory.mkdir(parents=True, exist_ok=True)

    entities = []
    for e in range(customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        dob = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 62))
        entities.append({
            "entity": e,
            "first_name": first,
            "last_name": last,
            "date_of_birth": dob.isoformat(),
            "email": f"{first}.{last}{rng.randrange(1, 999)}@example.com",
            "phone": f"07{rng.randrange(100000000, 999999999)}",
            "postcode": f"{rng.choice('ABCDEFGHKLMNPRSTW')}{rng.choice('ABCDEFGHKLMNPRSTW')}"
                        f"{rng.randrange(1, 30)} {rng.randrange(1, 10)}"
                        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            "job": rng.choice(JOBS),
            "marital": rng.choice(MARITAL),
            "education": rng.choice(EDUCATION),
            "default": rng.choices(["no", "unknown", "yes"], [80, 19, 1])[0],
            "housing": rng.choice(["no", "yes", "unknown"]),
            "loan": rng.choices(["no", "yes", "unknown"], [75, 20, 5])[0],
        })

    records: list[dict[str, object]] = []
    next_id = 100000
    for ent in entities:
        records.append({**ent, "customer_id": f"K{next_id}"})
        next_id += 1
        if rng.random() < duplicate_rate:
            dup: dict[str, object] = {**ent, "customer_id": f"K{next_id}"}
            next_id += 1
            for _ in range(rng.randint(1, 2)):
                change = rng.randrange(5)
                if change == 0:
                    dup["first_name"] = _typo(rng, str(dup["first_name"]))
                elif change == 1:
                    dup["last_name"] = _typo(rng, str(dup["last_name"]))
                elif change == 2:
                    dup["first_name"], dup["last_name"] = dup["last_name"], dup["first_name"]
                elif change == 3:
                    dup[rng.choice(["email", "phone", "postcode"])] = None
                else:
                    dup["email"] = str(dup["email"]).upper()
            records.append(dup)
    rng.shuffle(records)

    n_files = 3
    malformed_customers = 0
    for f in range(n_files):
        chunk = records[f::n_files]
        with open(cust_dir / f"customers-{f:03d}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CUSTOMER_HEADER)
            for i, rec in enumerate(chunk):
                writer.writerow(["" if rec.get(c) is None else rec[c] for c in CUSTOMER_HEADER
                                 if c != "fax_number"] + [""])
                if i == len(chunk) // 2:
                    fh.write('K999999,"unterminated,quote\n')  # malformed line
                    malformed_customers += 1
    with open(truth_dir / "customers_entities.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "entity_id"])
        for rec in sorted(records, key=lambda r: str(r["customer_id"])):
            writer.writerow([rec["customer_id"], rec["entity"]])

    # Monthly indicators for every month the contacts touch.
    indicators = {}
    month = date(start.year, 1, 1)
    with open(ind_dir / f"indicators-{start.year}.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["month", "emp_var_rate", "cons_price_idx", "cons_conf_idx", "euribor3m",
                         "nr_employed"])
        for m in range(12):
            key = date(month.year, m + 1, 1).strftime("%Y-%m")
            row = [round(rng.uniform(-3.4, 1.4), 1), round(rng.uniform(92.2, 94.8), 3),
                   round(rng.uniform(-50.8, -26.9), 1), round(rng.uniform(0.6, 5.0), 3),
                   round(rng.uniform(4963.6, 5228.1), 1)]
            indicators[key] = row
            writer.writerow([key, *row])

    # Contacts: JSON lines per day; the outcome depends on the features, so a model can learn.
    import json
    import math

    n_contacts = int(len(records) * contacts_per_customer)
    by_day: dict[int, list[dict[str, object]]] = {d: [] for d in range(days)}
    for c in range(n_contacts):
        rec = rng.choice(records)
        d = rng.randrange(days)
        day = start + timedelta(days=d)
        duration = int(rng.expovariate(1 / 250))
        campaign = rng.randint(1, 8)
        poutcome = rng.choices(POUTCOME, [10, 86, 4])[0]
        pdays = 999 if poutcome == "nonexistent" else rng.randint(0, 27)
        euribor = indicators[day.strftime("%Y-%m")][3]
        score = (-3.2 + duration / 300 - 0.15 * campaign + (2.0 if poutcome == "success" else 0)
                 - 0.3 * float(euribor) + (0.6 if rec["job"] in ("student", "retired") else 0))
        y = "yes" if rng.random() < 1 / (1 + math.exp(-score)) else "no"
        by_day[d].append({
            "contact_id": f"T{c:08d}", "customer_id": rec["customer_id"],
            "contact_date": day.isoformat(), "month": MONTHS[day.month - 1],
            "day_of_week": DAYS[day.weekday() % 5], "duration": duration, "campaign": campaign,
            "pdays": pdays, "previous": 0 if poutcome == "nonexistent" else rng.randint(1, 5),
            "poutcome": poutcome, "y": y,
        })
    malformed_contacts = 0
    for d, rows in by_day.items():
        day = start + timedelta(days=d)
        folder = contact_dir / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "part-00000.json", "w", encoding="utf-8") as fh:
            for i, contact in enumerate(rows):
                if d == days - 1:
                    contact = {**contact, "channel": rng.choice(["cellular", "telephone"])}
                fh.write(json.dumps(contact) + "\n")
                if d == 2 and i == 3:
                    fh.write('{"contact_id": "TBROKEN", "customer_id": \n')
                    malformed_contacts += 1
    return {
        "customer_records": len(records),
        "entities": customers,
        "contacts": n_contacts,
        "contact_days": days,
        "malformed_customer_lines": malformed_customers,
        "malformed_contact_lines": malformed_contacts,
    }


def add_contact_days(lake_root: str | Path, *, first_day: date, days: int, seed: int = 7,
                     per_day: int = 200) -> list[str]:
    """Add late contact partitions (new ``dt=`` folders) for incremental runs; returns them."""
    import json

    rng = random.Random(seed)
    truth = Path(lake_root) / "metadata" / "ground_truth" / "customers_entities.csv"
    ids = [row["customer_id"] for row in csv.DictReader(truth.open(encoding="utf-8"))]
    added = []
    for d in range(days):
        day = first_day + timedelta(days=d)
        folder = Path(lake_root) / "raw" / "contacts" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "part-00000.json", "w", encoding="utf-8") as fh:
            for i in range(per_day):
                fh.write(json.dumps({
                    "contact_id": f"L{day.strftime('%Y%m%d')}{i:05d}",
                    "customer_id": rng.choice(ids), "contact_date": day.isoformat(),
                    "month": MONTHS[day.month - 1], "day_of_week": DAYS[day.weekday() % 5],
                    "duration": int(rng.expovariate(1 / 250)), "campaign": rng.randint(1, 8),
                    "pdays": 999, "previous": 0, "poutcome": "nonexistent",
                    "y": rng.choice(["no"] * 8 + ["yes"]),
                }) + "\n")
        added.append(str(folder))
    return added


EVENT_TYPES = ("page_view", "search", "add_to_cart", "purchase")
PAGES = ("/", "/search", "/product", "/cart", "/checkout", "/help")
DEVICES = ("mobile", "desktop", "tablet")


def write_web_events(
    lake_root: str | Path,
    *,
    customers: int = 300,
    days: int = 2,
    seed: int = 11,
    start: date = date(2024, 6, 1),
) -> dict[str, int]:
    """Write clickstream events as JSON lines under ``<lake_root>/raw/web_events/dt=D/hour=H``.

    Each customer has a few visits (sessions) a day: bursts of events at most 10 minutes
    apart within one hour, visits at least an hour apart (so a 30-minute session gap finds
    exactly the visits); a visit with ``add_to_cart`` ends in a ``purchase``
    half the time. Every third hour file is gzip-compressed. Bad input to quarantine: a
    truncated line, an event with a non-numeric ``duration_ms``, an event without
    ``event_id``, an unknown ``event_type``; and one replayed event (the same ``event_id``
    twice in one hour) that the job keeps once.

    Returns the counts written: ``events`` (good, distinct), ``visits``, ``bad_lines``,
    ``unknown_event_type``, ``replayed``, ``customers``, ``files``.
    """
    import gzip
    import json

    rng = random.Random(seed)
    root = Path(lake_root) / "raw" / "web_events"
    by_hour: dict[tuple[str, int], list[str]] = {}
    n_events = visits = 0
    event_no = 0
    for c in range(customers):
        customer = f"W{c:06d}"
        device = rng.choice(DEVICES)
        for d in range(days):
            day = start + timedelta(days=d)
            hour = rng.randint(0, 3)
            while hour < 24:
                visits += 1
                minute = rng.randint(0, 40)
                carted = False
                for _ in range(rng.randint(1, 6)):
                    event_type = rng.choices(EVENT_TYPES[:3], [6, 2, 1])[0]
                    carted = carted or event_type == "add_to_cart"
                    event_no += 1
                    ts = f"{day.isoformat()} {hour:02d}:{minute:02d}:{rng.randint(0, 59):02d}"
                    line = json.dumps({"event_id": f"E{event_no:09d}", "customer_id": customer,
                                       "ts": ts, "event_type": event_type,
                                       "page": rng.choice(PAGES), "device": device,
                                       "duration_ms": rng.randint(200, 60000)})
                    by_hour.setdefault((day.isoformat(), hour), []).append(line)
                    n_events += 1
                    minute = min(minute + rng.randint(1, 9), 59)
                if carted and rng.random() < 0.5:
                    event_no += 1
                    ts = f"{day.isoformat()} {hour:02d}:{minute:02d}:59"
                    by_hour[(day.isoformat(), hour)].append(json.dumps(
                        {"event_id": f"E{event_no:09d}", "customer_id": customer, "ts": ts,
                         "event_type": "purchase", "page": "/checkout", "device": device,
                         "duration_ms": rng.randint(200, 60000)}))
                    n_events += 1
                hour += rng.randint(2, 8)
    first_key = sorted(by_hour)[0]
    bad = [
        '{"event_id": "EBAD1", "customer_id": ',
        json.dumps({"event_id": "EBAD2", "customer_id": "W000001", "ts": "2024-06-01 00:10:00",
                    "event_type": "page_view", "page": "/", "device": "mobile",
                    "duration_ms": "slow"}),
        json.dumps({"customer_id": "W000002", "ts": "2024-06-01 00:11:00",
                    "event_type": "page_view", "page": "/", "device": "mobile",
                    "duration_ms": 100}),
    ]
    unknown = json.dumps({"event_id": "EBOT1", "customer_id": "W000003",
                          "ts": "2024-06-01 00:12:00", "event_type": "crawler_ping",
                          "page": "/", "device": "desktop", "duration_ms": 1})
    by_hour[first_key] += [*bad, unknown, by_hour[first_key][0]]
    files = 0
    for i, ((dt, hour), lines) in enumerate(sorted(by_hour.items())):
        folder = root / f"dt={dt}" / f"hour={hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = ("\n".join(lines) + "\n").encode("utf-8")
        if i % 3 == 2:
            (folder / "events-00000.json.gz").write_bytes(gzip.compress(body, mtime=0))
        else:
            (folder / "events-00000.json").write_bytes(body)
        files += 1
    return {"events": n_events, "visits": visits, "bad_lines": len(bad),
            "unknown_event_type": 1, "replayed": 1, "customers": customers, "files": files}
