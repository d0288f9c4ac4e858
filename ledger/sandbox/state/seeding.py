"""Seeding the state in bulk: the rehearsal defaults, the operators' sample files and the admin JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import ids
from .model import StateCore, license_sku

SAMPLE_LICENSE_NAMES = {"BCSTD": "Webex Calling - Professional", "FTC": "Call on Webex (1:1 call, non-PSTN)",
                        "BCCA": "Webex Calling - Workspaces", "BCBASIC": "Webex Calling - Basic"}


def _csv_rows(path: str | Path | None) -> list[dict]:
    """The file's rows by header name, read as `ledger import` reads it (UTF-8 or a Spanish Excel's
    Windows-1252, `,` or `;`, `sep=` line): the same files rehearse as they import. A file that
    cannot be read is an InputError naming it (one line, no traceback)."""
    if not path:
        return []
    from ledger.importing.csvsource import CsvSource

    with CsvSource(Path(path)) as src:
        return [dict(zip(src.header, cells, strict=False)) for _, cells in src]


def _license_ids(rows: list[dict]) -> list[str]:
    """The licence ids these rows name (``licenses_id``, ``add_license_ids``, ``remove_license_ids``;
    ``|`` or ``,`` separated), first seen first, without repeats."""
    lic_ids: list[str] = []
    for r in rows:
        for col in ("licenses_id", "add_license_ids", "remove_license_ids"):
            for part in (r.get(col) or "").replace("|", ",").split(","):
                part = part.strip()
                if part and part not in lic_ids:
                    lic_ids.append(part)
    return lic_ids


class SeedingMixin(StateCore):
    """Bulk seeding of :class:`~ledger.sandbox.state.SandboxState` (through its ``add_*`` helpers)."""

    def seed_defaults(self) -> dict[str, str]:
        """A small dataset for rehearsals: two calling locations with numbers, a route group, a trunk."""
        with self.lock:
            rg = self.add_route_group("RG_SANDBOX")
            l1 = self.add_location("SANDBOX-HQ", calling_enabled=True, routing_prefix="81")
            l2 = self.add_location("SANDBOX-BRANCH", calling_enabled=True, city="Madrid", state="Madrid",
                                   postal_code="28001", routing_prefix="82")
            tr = self.add_trunk("TRUNK_SANDBOX", location_id=l1)
            for i in range(10):
                self.add_number(l1, f"+3493100{i:04d}")
                self.add_number(l2, f"+3491100{i:04d}")
            return {"route_group": rg, "trunk": tr, "hq": l1, "branch": l2}

    def seed_from_samples(
        self,
        ubicaciones_csv: str | Path | None = None,
        usuarios_csv: str | Path | None = None,
        global_csv: str | Path | None = None,
        *,
        users: bool = False,
        calling_enabled: bool = False,
    ) -> dict[str, Any]:
        """Seed with EXACTLY the ids found in the operators' sample files.

        global.csv gives the org id, the licence ids (by SKU) and the route group id; Ubicaciones.csv the
        locations (by name, with their address and route group); Usuarios.csv the licence ids and,
        with ``users=True``, the people (without calling).  Returns a summary of what was seeded.
        """
        summary: dict[str, Any] = {"locations": {}, "licenses": {}, "route_groups": {}, "people": {}}
        g_rows, u_rows, l_rows = _csv_rows(global_csv), _csv_rows(usuarios_csv), _csv_rows(ubicaciones_csv)
        with self.lock:
            g = g_rows[0] if g_rows else {}
            if g.get("org_id"):
                oid = g["org_id"].strip()
                if ids.key(oid) != self.org_uuid:
                    self._rebase_org(oid)
            summary["licenses"] = self._seed_sample_licenses(_license_ids([g] + u_rows))
            summary["route_groups"] = self._seed_sample_routes(g, l_rows)
            summary["locations"] = self._seed_sample_locations(g, l_rows, calling_enabled)
            if users:
                summary["people"] = self._seed_sample_people(u_rows)
        return summary

    def _seed_sample_licenses(self, lic_ids: list[str]) -> dict[str, str]:
        """Licences with exactly these ids (one per SKU: a default licence of the same SKU is replaced)."""
        out: dict[str, str] = {}
        for lid in lic_ids:
            d = ids.decode(lid)
            if not d or d[0] != "LICENSE":
                continue
            sku = license_sku(d[1])
            existing = self.license_by_sku(sku)
            if existing and ids.key(existing["id"]) != ids.key(lid):
                del self.licenses[ids.key(existing["id"])]
            if ids.key(lid) not in self.licenses:
                self.add_license(SAMPLE_LICENSE_NAMES.get(sku, sku), sku, license_id=lid)
            out[sku] = lid
        return out

    def _seed_sample_routes(self, g: dict, l_rows: list[dict]) -> dict[str, str]:
        """The route groups / trunks named by global.csv (``rg_id``) and Ubicaciones.csv (``premise_route_id``)."""
        out: dict[str, str] = {}
        rg_ids = {(g.get("rg_id") or "").strip()} | {(r.get("premise_route_id") or "").strip() for r in l_rows}
        for rg in sorted(x for x in rg_ids if x):
            d = ids.decode(rg)
            if not d:
                continue
            name = next((r.get("route_identity") for r in l_rows if ids.same(r.get("premise_route_id"), rg)
                         and r.get("route_identity")), None) or "RG_TEST"
            kind = "ROUTE_GROUP" if d[0].replace("_", "") == "ROUTEGROUP" else "TRUNK"
            if kind == "TRUNK":
                if ids.key(rg) not in self.trunks:
                    self.add_trunk(name, trunk_id=rg)
            elif ids.key(rg) not in self.route_groups:
                self.add_route_group(name, route_group_id=rg)
            out[name] = rg
        return out

    def _seed_sample_locations(self, g: dict, l_rows: list[dict], calling_enabled: bool) -> dict[str, str]:
        """The locations of Ubicaciones.csv, by name (an existing location of that name is kept)."""
        out: dict[str, str] = {}
        country = (g.get("country") or "ES").strip() or "ES"
        for r in l_rows:
            name = (r.get("name") or "").strip()
            if not name:
                continue
            existing = self.location_by_name(name)
            lid = existing["id"] if existing else self.add_location(
                name, calling_enabled=calling_enabled, location_id=(r.get("location_id") or "").strip() or None,
                address1=(r.get("address1") or "").strip() or "-", city=(r.get("city") or "").strip() or "-",
                state=(r.get("state") or "").strip() or "-", postal_code=(r.get("postal_code") or "").strip(),
                country=country, time_zone="Europe/Madrid",
                preferred_language="es_ES", announcement_language=(g.get("announcement_language") or "es_es"),
            )
            out[name] = lid
        return out

    def _seed_sample_people(self, u_rows: list[dict]) -> dict[str, str]:
        """The people of Usuarios.csv (without calling); an email already present is skipped."""
        out: dict[str, str] = {}
        for r in u_rows:
            email = (r.get("email") or "").strip()
            if not email or self.people_by_email(email):
                continue
            pid = self.add_person(email, first_name=(r.get("first_name") or "").strip(),
                                  last_name=(r.get("last_name") or "").strip(),
                                  display_name=(r.get("display_name") or "").strip() or None,
                                  person_id=(r.get("person_id") or "").strip() or None, _count=False)
            out[email] = pid
        return out

    def seed_from_dict(self, data: dict) -> dict[str, Any]:
        """JSON seeding (admin endpoint): {locations:[{name, calling_enabled, numbers:[..]}], people:[...],
        licenses:[{name, sku, total}], route_groups:[name], trunks:[name], workspaces:[...], numbers:[...]}."""
        out: dict[str, Any] = {"locations": {}, "people": {}, "licenses": {}, "route_groups": {}, "trunks": {},
                               "workspaces": {}}
        with self.lock:
            for lic in data.get("licenses", []):
                out["licenses"][lic["name"]] = self.add_license(lic["name"], lic.get("sku", "BCSTD"),
                                                                total=lic.get("total", 1000),
                                                                license_id=lic.get("id"))
            for rg in data.get("route_groups", []):
                rg = {"name": rg} if isinstance(rg, str) else rg
                out["route_groups"][rg["name"]] = self.add_route_group(rg["name"], route_group_id=rg.get("id"))
            for tr in data.get("trunks", []):
                tr = {"name": tr} if isinstance(tr, str) else tr
                out["trunks"][tr["name"]] = self.add_trunk(tr["name"], trunk_id=tr.get("id"))
            for loc in data.get("locations", []):
                loc = dict(loc)
                numbers = loc.pop("numbers", [])
                name = loc.pop("name")
                lid = self.add_location(name, **loc)
                for n in numbers:
                    self.add_number(lid, n)
                out["locations"][name] = lid
            for n in data.get("numbers", []):
                self.add_number(self._resolve_location_ref(n["location"]), n["number"], n.get("state", "INACTIVE"))
            for item in data.get("people", []):
                email, kwargs = self._located(item, "email")
                out["people"][email] = self.add_person(email, **kwargs)
            for item in data.get("workspaces", []):
                name, kwargs = self._located(item, "display_name")
                out["workspaces"][name] = self.add_workspace(name, **kwargs)
        return out

    def _located(self, item: dict, key: str) -> tuple[str, dict]:
        """A seeded person's or workspace's ``key`` and the rest as keyword arguments, its
        ``location`` (a name or id) turned into ``location_id``."""
        kwargs = dict(item)
        name = kwargs.pop(key)
        if "location" in kwargs:
            kwargs["location_id"] = self._resolve_location_ref(kwargs.pop("location"))
        return name, kwargs

    def _resolve_location_ref(self, ref: str) -> str:
        loc = self.locations.get(ids.key(ref)) or self.location_by_name(ref)
        if loc is None:
            raise KeyError(f"unknown location {ref!r}")
        return loc["id"]

    def _rebase_org(self, new_org_id: str) -> None:
        """Replace the default org id (used when seeding from files carrying a fixed org id)."""
        old = self.org_id
        org = self.orgs.pop(ids.key(old), {"displayName": "Sandbox Org"})
        org["id"] = new_org_id
        self.orgs[ids.key(new_org_id)] = org
        self.org_id = new_org_id
        for coll in (self.people, self.locations, self.workspaces):
            for o in coll.values():
                if o.get("orgId") == old:
                    o["orgId"] = new_org_id
        # licence ids embed the org uuid: regenerate the default ones
        remap: dict[str, str] = {}
        for k, lic in list(self.licenses.items()):
            d = ids.decode(lic["id"])
            if d and ":" in d[1] and d[1].split(":", 1)[0].lower() == ids.key(old):
                new_id = ids.encode("LICENSE", f"{ids.key(new_org_id)}:{d[1].split(':', 1)[1]}")
                del self.licenses[k]
                remap[lic["id"]] = new_id
                lic["id"] = new_id
                self.licenses[ids.key(new_id)] = lic
        for p in self.people.values():
            p["licenses"] = [remap.get(x, x) for x in p["licenses"]]
