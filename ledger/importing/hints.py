"""Hints for a header that does not match an action's columns: the headers found and a "did you
mean", by Spanish/Catalan spreadsheet word or by spelling (difflib)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ledger.importing.csvsource import header_key

#: header words of Spanish (and Catalan) spreadsheets → our column names, for "did you mean"
_SYNONYMS = {
    "correo": "email", "correo_electronico": "email", "correo_electrónico": "email", "mail": "email",
    "e-mail": "email", "usuario": "email", "nombre": "first_name", "nom": "first_name",
    "apellido": "last_name", "apellidos": "last_name", "cognom": "last_name", "cognoms": "last_name",
    "nombre_a_mostrar": "display_name", "nom_a_mostrar": "display_name", "extensión": "extension",
    "extension": "extension", "extensió": "extension", "telefono": "phone_number", "teléfono": "phone_number",
    "numero": "phone_number", "número": "phone_number", "numeración_directe": "direct_number",
    "sede": "location_name", "seu": "location_name", "ubicacion": "location_name", "ubicación": "location_name",
    "licencias": "add_license_ids", "licencia": "add_license_ids", "destino": "destination",
}


def header_hint(wanted: Sequence[str], header: Sequence[str]) -> str:
    """``; the header has: …; did you mean 'Correo' for 'email'?`` for a column missing from ``header``."""
    found = [h.strip() for h in header if h.strip()]
    keys = {header_key(h): h.strip() for h in found}
    guesses = []
    for name in wanted:
        by_word = [orig for key, orig in keys.items() if _SYNONYMS.get(key) == name]
        close = by_word or [keys[k] for k in difflib.get_close_matches(name, list(keys), n=1, cutoff=0.6)]
        guesses += [f"{close[0]!r} for {name!r}"] if close else []
    shown = ", ".join(found[:30]) + (f", … ({len(found)} columns)" if len(found) > 30 else "")
    return f"; the header has: {shown}" + (f"; did you mean {' or '.join(guesses)}?" if guesses else "")
