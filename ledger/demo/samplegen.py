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
