"""Generated data of the us-legislators schema (persons, memberships, organizations as JSON
Lines), the data AWS's Glue samples (join_and_relationalize) read from the catalog as
``legislators.persons_json``, ``memberships_json`` and ``organizations_json``.

Fields and nesting follow the public dataset's schema as the Glue documentation prints it;
the values are synthetic. Persons have ``links``, ``image``, ``identifiers``, ``other_names``,
``images`` and ``contact_details`` (arrays of structs, some empty, some absent), so
Relationalize has arrays to pivot; organizations share ``links`` and ``image`` with persons
(null on most organizations), as in the real data.

Example::

    folders = write_legislators("/tmp/lake/s3/awsglue-datasets/legislators", persons=50)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LEGISLATOR_TABLES = ("persons_json", "memberships_json", "organizations_json")
_FIRST = ["Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lee"]
_LAST = ["Adams", "Baker", "Clark", "Davis", "Evans", "Frank", "Green", "Hill", "Irwin"]
_ORGS = [("house", "House of Representatives", "legislature", 435),
         ("senate", "Senate", "legislature", 100),
         ("party-d", "Democrat", "party", None), ("party-r", "Republican", "party", None),
         ("party-i", "Independent", "party", None)]


def _person(rng: random.Random, i: int) -> dict[str, object]:
    given, family = rng.choice(_FIRST), rng.choice(_LAST)
    person: dict[str, object] = {
        "id": f"person-{i:05d}",
        "name": f"{given} {family}",
        "given_name": given,
        "family_name": family,
        "sort_name": f"{family}, {given}",
        "gender": rng.choice(["male", "female"]),
        "birth_date": f"19{rng.randint(20, 89)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "identifiers": [{"scheme": s, "identifier": f"{s[:2]}{i}"} for s in
                        rng.sample(["bioguide", "govtrack", "wikidata"], rng.randint(1, 3))],
        "contact_details": [{"type": t, "value": f"{t}-{i}"} for t in
                            rng.sample(["twitter", "youtube", "phone"], rng.randint(0, 2))],
        "other_names": ([{"lang": "en", "note": "alternate", "name": f"{given[0]}. {family}"}]
                        if rng.random() < 0.5 else []),
        "images": [{"url": f"https://example.org/img/{i}.jpg"}],
        "image": f"https://example.org/img/{i}.jpg",
        "links": [{"note": "Wikipedia", "url": f"https://example.org/wiki/{i}"}],
    }
    if rng.random() < 0.2:
        person["death_date"] = f"20{rng.randint(0, 19):02d}-01-01"
    return person


def write_legislators(folder: str | Path, *, persons: int = 40, seed: int = 7
                      ) -> dict[str, Path]:
    """Write ``persons_json/``, ``memberships_json/`` and ``organizations_json/`` (one JSON
    Lines file each) under ``folder``; returns table name -> folder. Each person has one to
    three memberships, in the house or senate, on behalf of a party."""
    if persons < 1:
        raise ValueError(f"write_legislators: persons must be at least 1, got {persons}")
    rng = random.Random(seed)
    root = Path(folder)
    people = [_person(rng, i) for i in range(persons)]
    orgs: list[dict[str, object]] = []
    for org_id, name, classification, seats in _ORGS:
        org: dict[str, object] = {
            "id": org_id, "name": name, "classification": classification,
            "identifiers": [{"scheme": "wikidata", "identifier": f"Q{len(orgs)}"}],
            "other_names": [{"lang": "en", "note": "short", "name": name.split()[0]}],
            "type": "legislature" if classification == "legislature" else "party",
        }
        if seats is not None:
            org["seats"] = seats
        if org_id == "senate":
            org["links"] = [{"note": "website", "url": "https://example.org/senate"}]
            org["image"] = "https://example.org/senate.png"
        orgs.append(org)
    memberships = []
    for person in people:
        for _ in range(rng.randint(1, 3)):
            chamber = rng.choice(["house", "senate"])
            start = rng.randint(1990, 2015)
            memberships.append({
                "person_id": person["id"], "organization_id": chamber,
                "on_behalf_of_id": rng.choice(["party-d", "party-r", "party-i"]),
                "role": "representative" if chamber == "house" else "senator",
                "area_id": f"ocd-division/state:{rng.choice(['ca', 'ny', 'tx', 'wa'])}",
                "legislative_period_id": f"term/{start}",
                "start_date": f"{start}-01-03", "end_date": f"{start + 2}-01-03",
            })
    out = {}
    for table, rows in zip(LEGISLATOR_TABLES, (people, memberships, orgs), strict=True):
        target = root / table
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{table}.json").write_text(
            "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
        out[table] = target
    return out
