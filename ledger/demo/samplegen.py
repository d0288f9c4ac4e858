"""Realistic operator CSV files (the Usuarios.csv layout), for `ledger demo` and the benchmarks."""

from __future__ import annotations

import csv
import random
from pathlib import Path

USUARIOS_HEADER = (
    "person_id,first_name,last_name,display_name,email,add_license_ids,legacy_phone_number,extension,"
    "primary,direct_number,entity_id,group_id,enabled,destination,call_type,transfer_enabled,"
    "use_custom_enabled,use_custom_permissions,remove_license_ids"
).split(",")

FIRST = ("Andrés", "Carmen", "José", "Lucía", "Marc", "Núria", "Jordi", "Montserrat", "Pau", "Laia", "Àlex", "Íria")
LAST = ("García-Toñez", "Muñoz", "López", "Puig", "Ferrer", "Soler", "Vidal", "Martí", "Roca", "Serra", "Font")


def user_email(i: int, domain: str = "lab.example.com") -> str:
    return f"user{i:06d}@{domain}"


def write_users_csv(
    path: Path,
    rows: int,
    *,
    seed: int = 7,
    domain: str = "lab.example.com",
    license_id: str = "",
    first_extension: int = 80_300_000,
    delimiter: str = ",",
    location_name: str | None = None,
) -> list[str]:
    """Write ``rows`` users in the operators' Usuarios.csv layout; return their emails in order.

    ``location_name`` adds a ``location_name`` column (the users' calling location) to every row.
    """
    rnd = random.Random(seed)
    emails = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, delimiter=delimiter)
        out.writerow([*USUARIOS_HEADER, *(["location_name"] if location_name else [])])
        for i in range(rows):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            ext = first_extension + i
            email = user_email(i, domain)
            emails.append(email)
            out.writerow(
                [
                    "",
                    first,
                    last,
                    f"{first}  {last}",
                    email,
                    license_id,
                    "",
                    str(ext),
                    "FALSE",
                    "",
                    "",
                    "",
                    "TRUE",
                    f"53{str(ext)[1:]}",
                    "INTERNATIONAL",
                    "TRUE",
                    rnd.choice(("TRUE", "FALSE")),
                    rnd.choice(("TRUE", "FALSE")),
                    "",
                    *([location_name] if location_name else []),
                ]
            )
    return emails


# --- a whole v21 migration (Ubicaciones.csv, Usuarios.csv, Workspaces.csv, global.csv, profiles) ----

UBICACIONES_HEADER = (
    "location_id,name,premise_route_type,premise_route_id,enable_unknown_extension_route_policy,route_identity,"
    "phone_numbers,calling_line_id,pstn_connection_type"
).split(",")
WORKSPACES_HEADER = ("display_name,location_name,extension,legacy_phone_number,destination,call_type,action").split(",")
PROFILE = {"use_custom_enabled": True, "use_custom_permissions": True,
           "calling_permissions": [{"call_type": "INTERNATIONAL", "action": "BLOCK", "transfer_enabled": False}]}


def _webex_id(kind: str, tail: str) -> str:
    import base64

    return base64.b64encode(f"ciscospark://us/{kind}/{tail}".encode()).decode().rstrip("=")


def _number(site: int, n: int) -> str:
    # +3496…: clear of the numbers `ledger sandbox` starts with (+3493100…, +3491100…), which a 13th
    # site's +349310… numbers met ("NUM_IN_USE: already exists in another location")
    return f"+3496{site:02d}{n:05d}"


def write_v21_migration(folder: Path, *, sites: int = 10, users: int = 500, workspaces: int = 50, seed: int = 21) -> dict[str, Path]:
    """A realistic v21 migration in ``folder``: ``sites`` locations (numbers, main number, route group),
    ``users`` users and ``workspaces`` workspaces spread over them, the three profile files and a
    global.csv naming the org, the Calling licence and the route group (``ledger sandbox --samples``
    seeds exactly these ids). Returns the paths by name."""
    import json
    import uuid

    rnd = random.Random(seed)
    org = str(uuid.UUID(int=rnd.getrandbits(128)))
    lic = _webex_id("LICENSE", f"{org}:BCSTD_{uuid.UUID(int=rnd.getrandbits(128))}")
    rg = _webex_id("ROUTE_GROUP", str(uuid.UUID(int=rnd.getrandbits(128))))
    folder.mkdir(parents=True, exist_ok=True)
    per_site_users, per_site_ws = -(-users // sites), -(-workspaces // sites)
    paths = {name: folder / name for name in ("Ubicaciones.csv", "Usuarios.csv", "Workspaces.csv", "global.csv")}
    with paths["global.csv"].open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([  # the operators' global.csv columns that the steps read
            ["org_id", "announcement_language", "preferred_language", "time_zone", "country", "licenses_id",
             "route_type", "rg_id", "number_type"],
            [_webex_id("ORGANIZATION", org), "es_es", "es_ES", "Europe/Madrid", "ES", lic, "ROUTE_GROUP", rg, "DID"],
        ])
    with paths["Ubicaciones.csv"].open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(UBICACIONES_HEADER)
        for s in range(sites):
            numbers = [_number(s, n) for n in range(1 + per_site_users + per_site_ws)]
            # as in the operators' file: the main number is not in phone_numbers, and written without '+'
            main = numbers[0][1:] if s % 2 == 0 else numbers[0]
            out.writerow(["", f"SITE{s:02d}", "ROUTE_GROUP", rg, "TRUE", "RG_TEST", ",".join(numbers[1:]), main,
                          "LOCAL_GATEWAY"])
    with paths["Usuarios.csv"].open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow([*USUARIOS_HEADER, "location_name"])
        for i in range(users):
            s, k = i % sites, i // sites
            first, last, ext = rnd.choice(FIRST), rnd.choice(LAST), str(80_300_000 + i)
            out.writerow(["", first, last, f"{first} {last}", user_email(i), lic, _number(s, 1 + k), ext, "FALSE",
                          "", "", "", "TRUE", f"53{ext[1:]}", "INTERNATIONAL", "TRUE", "TRUE", "TRUE", "",
                          f"SITE{s:02d}"])
    with paths["Workspaces.csv"].open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(WORKSPACES_HEADER)
        for i in range(workspaces):
            s, k = i % sites, i // sites
            ext = str(70_000 + i)
            out.writerow([f"Sala {i:03d}", f"SITE{s:02d}", ext, _number(s, 1 + per_site_users + k), f"53{ext}",
                          "INTERNATIONAL", "BLOCK"])
    for name in ("location_profile.json", "user_profile.json", "workspace_profile.json"):
        paths[name] = folder / name
        paths[name].write_text(json.dumps(PROFILE, indent=2) + "\n", encoding="utf-8")
    return paths
