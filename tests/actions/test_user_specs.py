"""The user.* declarations point at real executors, with the v21 names the operators use."""

from __future__ import annotations

import pytest

from ledger.actions import REGISTRY, get_spec
from ledger.actions.runtime import executor_class

USER_ACTIONS = {
    "user.licenses": ("usuarios_modificar_licencias",),
    "user.remove_licenses": ("usuarios_remover_licencias",),
    "user.move_location": ("usuarios_asignar_location_desde_csv",),
    "user.secondary_number": ("usuarios_anadir_intercom_legacy",),
    "user.forwarding": ("usuarios_configurar_desvio_prefijo53",),
    "user.outgoing_permissions": ("usuarios_configurar_perfil_saliente_custom",),
    "user.scim_create": ("usuarios_alta_scim",),
}


@pytest.mark.parametrize("name", sorted(USER_ACTIONS))
def test_user_action_has_an_executor_and_its_v21_aliases(name):
    spec = get_spec(name)
    cls = executor_class(spec)
    assert callable(getattr(cls, "execute", None))
    for alias in USER_ACTIONS[name]:
        assert REGISTRY.get(alias) is spec
    assert "org_id" in spec.globals_used


def test_scim_create_is_a_bulk_executor_of_at_most_100_rows():
    spec = get_spec("user.scim_create")
    assert 1 < spec.bulk_size <= 100
    assert callable(getattr(executor_class(spec), "execute_many", None))


def test_v21_column_names_are_accepted():
    cols = {n: set(get_spec(n).column_names) for n in USER_ACTIONS}
    assert {"person_id", "email", "add_license_ids", "remove_license_ids", "extension"} <= cols["user.licenses"]
    assert get_spec("user.licenses").column("remove_license_ids").aliases == ("remove_license_id",)
    assert get_spec("user.move_location").column("location_id").aliases == ("target_location_id",)
    assert {"legacy_phone_number"} <= cols["user.secondary_number"]
    assert {"destination", "extension", "enabled"} <= cols["user.forwarding"]
    assert {"call_type", "transfer_enabled", "use_custom_enabled", "use_custom_permissions"} <= cols[
        "user.outgoing_permissions"
    ]
    assert get_spec("user.outgoing_permissions").accepts_profile
