"""Declarations of every action's columns (v21 column names; see shared/reference/v21_actions.md).

Pure data. Executors live in ``ledger.actions.<domain>`` modules and are named by ``executor``.
"""

from __future__ import annotations

from ledger.spec import ActionSpec, Column
from ledger.spec import ColType as T

# the call types the Webex contract documents (ledger/sandbox/contract.json, callType enums of the
# person, workspace and location outgoingPermission PUTs; tests/actions/test_user_permissions.py keeps
# them equal). wxc_sdk 1.41 also knows LOCAL and TOLL: not in the API, refused at import.
CALL_TYPES = (
    "INTERNAL_CALL",
    "TOLL_FREE",
    "INTERNATIONAL",
    "OPERATOR_ASSISTED",
    "CHARGEABLE_DIRECTORY_ASSISTED",
    "SPECIAL_SERVICES_I",
    "SPECIAL_SERVICES_II",
    "PREMIUM_SERVICES_I",
    "PREMIUM_SERVICES_II",
    "NATIONAL",
)
PERMISSION_ACTIONS = ("ALLOW", "BLOCK", "AUTH_CODE", "TRANSFER_NUMBER_1", "TRANSFER_NUMBER_2", "TRANSFER_NUMBER_3")

# --- reusable column groups ---------------------------------------------------------------------
PERSON = (
    Column("person_id", T.WEBEX_ID, help="Webex person id (or give email)"),
    Column("email", T.EMAIL, help="user's email, resolved to the person id"),
)
USER_LOCATION = (
    Column("location_id", T.WEBEX_ID, help="Webex location id (or give location_name)", aliases=("target_location_id",)),
    Column("location_name", T.STRING, help="location name, resolved to its id"),
)
SITE = (
    Column("location_id", T.WEBEX_ID, help="Webex location id (or give name)"),
    Column("name", T.STRING, help="location name (site code), resolved to its id"),
)
WS_LOCATION = (
    Column("location_id", T.WEBEX_ID, help="Webex location id (or give location_name)"),
    Column("location_name", T.STRING, help="location name, resolved to its id"),
)
WORKSPACE = (
    Column("workspace_id", T.WEBEX_ID, help="Webex workspace id (or give workspace_name)"),
    Column("workspace_name", T.STRING, help="workspace display name, resolved to its id", aliases=("display_name",)),
    Column("location_id", T.WEBEX_ID, help="narrows the workspace_name lookup to a location"),
    Column("location_name", T.STRING, help="location name; narrows the workspace_name lookup"),
)
PERMISSIONS = (
    Column("call_type", T.ENUM, choices=CALL_TYPES, help="call type the row sets"),
    Column("action", T.ENUM, choices=PERMISSION_ACTIONS, default="BLOCK", help="what to do with call_type"),
    Column("transfer_enabled", T.BOOL, help="allow transferring/forwarding calls of that type"),
    Column("use_custom_enabled", T.BOOL, help="use the custom permissions"),
    Column("use_custom_permissions", T.BOOL, help="use custom (not location) permissions"),
)
# a location has callingPermissions only (no use-custom flags): its rows set call types
LOCATION_PERMISSIONS = PERMISSIONS[:3]
FORWARDING = (
    Column("extension", T.EXTENSION, help="extension; the default destination is 53 + extension"),
    Column("destination", T.STRING, help="forward destination (default 53 + extension)"),
    Column("enabled", T.BOOL, default="TRUE", help="TRUE forwards all calls, FALSE turns it off"),
)
REMOVE_LICENSES = Column(
    "remove_license_ids", T.LIST, aliases=("remove_license_id",), help="licence ids or names to remove"
)
PERSON_ONE_OF = (("person_id", "email"),)
PERSON_KEY = ("person_id", "email")
SITE_ONE_OF = (("location_id", "name"),)
SITE_KEY = ("location_id", "name")
WS_ONE_OF = (("workspace_id", "workspace_name"),)
WS_KEY = ("workspace_id", "workspace_name", "location_id", "location_name")
WS_LOCATION_KEY = ("location_id", "location_name")

SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        name="user.create",
        summary="Create a user with the People API, optionally with calling data",
        aliases=("usuarios_alta_people",),
        columns=(
            Column("email", T.EMAIL, required=True, help="the new user's email (business key)"),
            Column("first_name", T.STRING, required=True),
            Column("last_name", T.STRING, required=True),
            Column("display_name", T.STRING, help="default: first_name last_name"),
            *USER_LOCATION,
            Column("extension", T.EXTENSION),
            Column("licenses", T.ID_LIST, aliases=("add_license_ids",), help="licence ids to assign"),
            Column("phone_number", T.E164, aliases=("direct_number",), help="work number"),
        ),
        key=("email",),
        location_key=("location_id", "location_name"),
        executor="ledger.actions.user_create:UserCreate",
    ),
    ActionSpec(
        name="user.scim_create",
        summary="Create users through SCIM /Bulk, up to 100 per request",
        aliases=("usuarios_alta_scim",),
        columns=(
            Column("email", T.EMAIL, required=True, help="userName and work email (business key)"),
            Column("first_name", T.STRING, required=True),
            Column("last_name", T.STRING, required=True),
            Column("display_name", T.STRING, help="default: first_name last_name"),
            Column("active", T.BOOL, default="TRUE"),
            Column("org_id", T.WEBEX_ID, required=True, help="from global.csv"),
            # not sent (SCIM has no location): only the site the row waits for after location steps
            Column(
                "location_id", T.WEBEX_ID, help="the user's site (not sent): waits for that site's rows only",
                aliases=("target_location_id",),
            ),
            Column("location_name", T.STRING, help="the user's site by name (not sent), as location_id"),
        ),
        key=("email",),
        location_key=("location_id", "location_name"),
        bulk_size=100,
        executor="ledger.actions.scim:ScimCreate",
    ),
    ActionSpec(
        name="user.licenses",
        summary="Add and/or remove licences (a Calling licence add carries location and extension)",
        aliases=("usuarios_modificar_licencias",),
        columns=(
            *PERSON,
            Column("add_license_ids", T.LIST, help="licence ids or names to add (quoted comma list)"),
            REMOVE_LICENSES,
            *USER_LOCATION,
            Column("extension", T.EXTENSION),
            Column("phone_number", T.E164, aliases=("direct_number",), help="work number of a Calling licence add"),
        ),
        one_of=PERSON_ONE_OF,
        work=("add_license_ids", "remove_license_ids"),
        disjoint=(("add_license_ids", "remove_license_ids"),),
        disjoint_help=(
            "to only remove the licences, import the file with --action usuarios_remover_licencias "
            "(user.remove_licenses: it reads remove_license_ids only); to add it, take it out of remove_license_ids"
        ),
        key=PERSON_KEY,
        location_key=("location_id", "location_name"),
        executor="ledger.actions.users:UserLicenses",
    ),
    ActionSpec(
        name="user.remove_licenses",
        summary="Remove licences only (v21 usuarios_remover_licencias: add_license_ids is not read)",
        aliases=("usuarios_remover_licencias",),
        columns=(*PERSON, REMOVE_LICENSES),
        one_of=PERSON_ONE_OF,
        work=("remove_license_ids",),
        key=PERSON_KEY,
        executor="ledger.actions.users:UserLicenses",
    ),
    ActionSpec(
        name="user.move_location",
        summary="Move a user to another calling location",
        aliases=("usuarios_asignar_location_desde_csv",),
        columns=(
            *PERSON,
            *USER_LOCATION,
            Column("extension", T.EXTENSION, help="extension at the target"),
            Column("selected", T.STRING, help="v21 people_to_location.csv: 0/no/false skips the row (empty does not)"),
        ),
        one_of=(*PERSON_ONE_OF, ("location_id", "location_name")),
        key=PERSON_KEY,
        location_key=("location_id", "location_name"),
        executor="ledger.actions.moves:UserMoveLocation",
        bulk_size=100,
    ),
    ActionSpec(
        name="user.secondary_number",
        summary="Add the legacy (intercom) number as a non-primary number",
        aliases=("usuarios_anadir_intercom_legacy",),
        columns=(*PERSON, Column("legacy_phone_number", T.E164, help="empty: nothing to do for the row")),
        one_of=PERSON_ONE_OF,
        work=("legacy_phone_number",),
        key=PERSON_KEY,
        executor="ledger.actions.users:UserSecondaryNumber",
    ),
    ActionSpec(
        name="user.forwarding",
        summary="Unconditional call forwarding (default destination 53 + extension)",
        aliases=("usuarios_configurar_desvio_prefijo53",),
        columns=(*PERSON, *FORWARDING),
        one_of=(*PERSON_ONE_OF, ("destination", "extension")),
        key=PERSON_KEY,
        executor="ledger.actions.users:UserForwarding",
    ),
    ActionSpec(
        name="user.outgoing_permissions",
        summary="Custom outgoing-call permissions for a user",
        aliases=("usuarios_configurar_perfil_saliente_custom",),
        columns=(*PERSON, *PERMISSIONS),
        one_of=PERSON_ONE_OF,
        key=PERSON_KEY,
        accepts_profile=True,
        executor="ledger.actions.users:UserOutgoingPermissions",
    ),
    ActionSpec(
        name="location.pstn",
        summary="Enable calling if needed, then set the PSTN connection to a premises route",
        aliases=("ubicacion_configurar_pstn",),
        columns=(
            *SITE,
            Column("premise_route_type", T.ENUM, choices=("ROUTE_GROUP", "TRUNK"), default="ROUTE_GROUP"),
            Column("premise_route_id", T.WEBEX_ID, help="route group or trunk id (or give route_identity)"),
            Column("route_identity", T.STRING, help="route group or trunk NAME, used when premise_route_id is empty"),
            Column("pstn_connection_type", T.ENUM, choices=("LOCAL_GATEWAY", "NON_INTEGRATED_CCP"), default="LOCAL_GATEWAY"),
            Column("pstn_option", T.STRING, help="NON_INTEGRATED_CCP: the connection option's id or display name "
                   "(default: the location's only option)"),
            Column("announcement_language", T.STRING, help="needed to enable calling (e.g. es_es; or global.csv)"),
            Column("preferred_language", T.STRING, help="needed to enable calling (e.g. es_ES; or global.csv)"),
        ),
        one_of=(*SITE_ONE_OF, ("premise_route_id", "route_identity")),
        key=SITE_KEY,
        location_key=SITE_KEY,
        executor="ledger.actions.location_pstn:LocationPstn",
    ),
    ActionSpec(
        name="location.numbers",
        summary="Add numbers to a location in state INACTIVE",
        aliases=("ubicacion_alta_numeraciones_desactivadas",),
        columns=(
            *SITE,
            Column("phone_numbers", T.E164_LIST, help="quoted comma list of numbers (empty: nothing to do)"),
            Column("number_type", T.ENUM, choices=("DID", "TOLLFREE", "MOBILE"), default="DID"),
            # v21_actions.md §3.2/§4: the main number is not in phone_numbers; location.main_number needs it
            Column("calling_line_id", T.E164, help="the main number: added too when phone_numbers lacks it"),
            Column("phone_number", T.E164, help="the main number when calling_line_id is empty"),
        ),
        one_of=SITE_ONE_OF,
        work=("phone_numbers", "calling_line_id", "phone_number"),
        key=SITE_KEY,
        location_key=SITE_KEY,
        globals_used=("org_id", "number_type"),
        executor="ledger.actions.locations:LocationNumbers",
    ),
    ActionSpec(
        name="location.main_number",
        summary="Set the location's main (calling line id) number",
        aliases=("ubicacion_actualizar_cabecera",),
        columns=(
            *SITE,
            Column("calling_line_id", T.E164, help="main number (or phone_number)"),
            Column("phone_number", T.E164, help="used when calling_line_id is empty"),
            Column("calling_line_name", T.STRING, help="caller id name sent with the main number (optional)"),
        ),
        one_of=SITE_ONE_OF,
        work=("calling_line_id", "phone_number"),
        key=SITE_KEY,
        location_key=SITE_KEY,
        executor="ledger.actions.locations:LocationMainNumber",
    ),
    ActionSpec(
        name="location.internal_dialing",
        summary="Route unknown extensions to the premises route group or trunk (or turn it off)",
        aliases=("ubicacion_configurar_llamadas_internas",),
        columns=(
            *SITE,
            Column("enable_unknown_extension_route_policy", T.BOOL, required=True),
            Column("premise_route_type", T.ENUM, choices=("ROUTE_GROUP", "TRUNK"), default="ROUTE_GROUP"),
            Column("premise_route_id", T.WEBEX_ID, help="required (or route_identity) when the policy is enabled"),
            Column("route_identity", T.STRING, help="route group or trunk NAME, used when premise_route_id is empty"),
        ),
        one_of=SITE_ONE_OF,
        key=SITE_KEY,
        location_key=SITE_KEY,
        executor="ledger.actions.locations:LocationInternalDialing",
    ),
    ActionSpec(
        name="location.outgoing_permissions",
        summary="Default outgoing-call permissions of a location",
        aliases=("ubicacion_configurar_permisos_salientes_defecto",),
        columns=(*SITE, *LOCATION_PERMISSIONS),
        one_of=SITE_ONE_OF,
        key=SITE_KEY,
        location_key=SITE_KEY,
        accepts_profile=True,
        executor="ledger.actions.locations:LocationOutgoingPermissions",
    ),
    ActionSpec(
        name="workspace.create",
        summary="Create a workspace, as a Webex Calling workspace when an extension or number is given",
        aliases=("workspaces_alta",),
        columns=(
            Column("display_name", T.STRING, required=True, aliases=("workspace_name",)),
            *WS_LOCATION,
            Column("extension", T.EXTENSION, help="makes it a Webex Calling workspace (needs a location)"),
            Column("phone_number", T.E164, aliases=("primary_number", "direct_number"), help="as extension; must be in the location"),
            Column("licenses", T.ID_LIST, help="ONE Webex Calling licence id (default: a free "
                   "'Webex Calling - Professional' one, which secondary numbers need)"),
            Column("supported_devices", T.ENUM, choices=("phones", "collaborationDevices"), default="phones",
                   help="phones (default: common-area phones) or collaborationDevices; Webex never changes it later"),
        ),
        key=("display_name", "location_id", "location_name"),
        location_key=WS_LOCATION_KEY,
        executor="ledger.actions.workspace_create:WorkspaceCreate",
    ),
    ActionSpec(
        name="workspace.secondary_number",
        summary="Add the legacy (intercom) number to a workspace as a non-primary number",
        aliases=("workspaces_anadir_intercom_legacy",),
        columns=(*WORKSPACE, Column("legacy_phone_number", T.E164, help="empty: nothing to do for the row")),
        one_of=WS_ONE_OF,
        work=("legacy_phone_number",),
        key=WS_KEY,
        location_key=WS_LOCATION_KEY,
        executor="ledger.actions.workspaces:WorkspaceSecondaryNumber",
    ),
    ActionSpec(
        name="workspace.forwarding",
        summary="Unconditional call forwarding of a workspace (default 53 + extension)",
        aliases=("workspaces_configurar_desvio_prefijo53", "workspaces_configurar_desvio_prefijo53_telephony"),
        columns=(*WORKSPACE, *FORWARDING),
        one_of=(*WS_ONE_OF, ("destination", "extension")),
        key=WS_KEY,
        location_key=WS_LOCATION_KEY,
        executor="ledger.actions.workspaces:WorkspaceForwarding",
    ),
    ActionSpec(
        name="workspace.outgoing_permissions",
        summary="Custom outgoing-call permissions for a workspace",
        aliases=("workspaces_configurar_perfil_saliente_custom",),
        columns=(*WORKSPACE, *PERMISSIONS),
        one_of=WS_ONE_OF,
        key=WS_KEY,
        location_key=WS_LOCATION_KEY,
        accepts_profile=True,
        executor="ledger.actions.workspaces:WorkspaceOutgoingPermissions",
    ),
    ActionSpec(
        name="workspace.check_permissions",
        summary="Read-only precheck: can the token read forwarding and outgoing permissions?",
        aliases=("workspaces_validar_estado_permisos",),
        columns=WORKSPACE,
        one_of=WS_ONE_OF,
        key=WS_KEY,
        location_key=WS_LOCATION_KEY,
        read_only=True,
        executor="ledger.actions.workspaces:WorkspaceCheckPermissions",
    ),
)
