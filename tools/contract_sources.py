"""Which endpoints ``tools/contract_gen.py`` puts in the contract, where each is taken from, and the
README's known conflicts between the sources (both forms recorded)."""

from __future__ import annotations

# (key, source): key = "METHOD /real/path"; source = ("openapi", file, spec path) or
# ("wxc", file, method name). Paths use the real Webex prefixes (/v1, /identity/scim).
ENDPOINTS: list[tuple[str, tuple[str, str, str]]] = [
    ("GET /v1/people", ("openapi", "webex-admin.json", "/people")),
    ("POST /v1/people", ("openapi", "webex-admin.json", "/people")),
    ("GET /v1/people/{personId}", ("openapi", "webex-admin.json", "/people/{personId}")),
    ("PUT /v1/people/{personId}", ("openapi", "webex-admin.json", "/people/{personId}")),
    ("GET /v1/licenses", ("openapi", "webex-admin.json", "/licenses")),
    ("GET /v1/licenses/{licenseId}", ("openapi", "webex-admin.json", "/licenses/{licenseId}")),
    ("PATCH /v1/licenses/users", ("openapi", "webex-admin.json", "/licenses/users")),
    ("GET /v1/organizations", ("openapi", "webex-admin.json", "/organizations")),
    ("GET /v1/organizations/{orgId}", ("openapi", "webex-admin.json", "/organizations/{orgId}")),
    ("POST /identity/scim/{orgId}/v2/Bulk", ("openapi", "webex-admin.json", "/identity/scim/{orgId}/v2/Bulk")),
    ("GET /identity/scim/{orgId}/v2/Users", ("openapi", "webex-admin.json", "/identity/scim/{orgId}/v2/Users")),
    ("POST /identity/scim/{orgId}/v2/Users", ("openapi", "webex-admin.json", "/identity/scim/{orgId}/v2/Users")),
    (
        "GET /identity/scim/{orgId}/v2/Users/{userId}",
        ("openapi", "webex-admin.json", "/identity/scim/{orgId}/v2/Users/{userId}"),
    ),
    # webex-device.json's components/schemas/Location is the *workspace* location schema (the bundle
    # reuses the name; its /locations examples show id, name, orgId, timeZone): take the locations
    # endpoints from the generated LocationsApi instead.
    ("GET /v1/locations", ("wxc", "locations_auto.py", "list_locations")),
    ("POST /v1/locations", ("wxc", "locations_auto.py", "create_location")),
    ("GET /v1/locations/{locationId}", ("wxc", "locations_auto.py", "get_location_details")),
    ("GET /v1/workspaces", ("openapi", "webex-device.json", "/workspaces")),
    ("POST /v1/workspaces", ("openapi", "webex-device.json", "/workspaces")),
    ("GET /v1/workspaces/{workspaceId}", ("openapi", "webex-device.json", "/workspaces/{workspaceId}")),
    # --- Webex Calling (generated models) ---------------------------------------------------
    ("GET /v1/telephony/config/locations", ("wxc", "location-call-settings_auto.py",
                                            "list_locations_webex_calling_details")),
    ("POST /v1/telephony/config/locations", ("wxc", "location-call-settings_auto.py",
                                             "enable_a_location_for_webex_calling")),
    ("GET /v1/telephony/config/locations/{locationId}", ("wxc", "location-call-settings_auto.py",
                                                         "get_location_webex_calling_details")),
    ("PUT /v1/telephony/config/locations/{locationId}", ("wxc", "location-call-settings_auto.py",
                                                         "update_location_webex_calling_details")),
    ("GET /v1/telephony/config/routeChoices", ("wxc", "location-call-settings_auto.py",
                                               "read_the_list_of_routing_choices")),
    ("GET /v1/telephony/config/locations/{locationId}/internalDialing",
     ("wxc", "location-call-settings-call-handling_auto.py", "read_the_internal_dialing_configuration_for_a_location")),
    ("PUT /v1/telephony/config/locations/{locationId}/internalDialing",
     ("wxc", "location-call-settings-call-handling_auto.py", "modify_the_internal_dialing_configuration_for_a_location")),
    ("GET /v1/telephony/config/locations/{locationId}/outgoingPermission",
     ("wxc", "location-call-settings-call-handling_auto.py", "get_location_outgoing_permission")),
    ("PUT /v1/telephony/config/locations/{locationId}/outgoingPermission",
     ("wxc", "location-call-settings-call-handling_auto.py", "update_location_outgoing_permission")),
    ("POST /v1/telephony/config/locations/{locationId}/numbers", ("wxc", "numbers_auto.py",
                                                                  "add_phone_numbers_to_a_location")),
    ("GET /v1/telephony/config/numbers", ("wxc", "numbers_auto.py", "get_phone_numbers_for_an_organization_with_given_criteria")),
    ("GET /v1/telephony/pstn/locations/{locationId}/connection", ("wxc", "pstn_auto.py",
                                                                  "retrieve_pstn_connection_for_a_location")),
    ("PUT /v1/telephony/pstn/locations/{locationId}/connection", ("wxc", "pstn_auto.py",
                                                                  "setup_pstn_connection_for_a_location")),
    ("GET /v1/telephony/pstn/locations/{locationId}/connectionOptions",
     ("wxc", "pstn_auto.py", "retrieve_pstn_connection_options_for_a_location")),
    ("POST /v1/telephony/config/jobs/person/moveLocation", ("wxc", "user-call-settings-2_auto.py",
                                                            "validate_or_initiate_move_users_job")),
    ("GET /v1/telephony/config/jobs/person/moveLocation", ("wxc", "user-call-settings-2_auto.py",
                                                           "list_move_users_jobs")),
    ("GET /v1/telephony/config/jobs/person/moveLocation/{jobId}", ("wxc", "user-call-settings-2_auto.py",
                                                                   "get_move_users_job_status")),
    ("GET /v1/telephony/config/jobs/person/moveLocation/{jobId}/errors", ("wxc", "user-call-settings-2_auto.py",
                                                                          "list_move_users_job_errors")),
    ("GET /v1/people/{personId}/features/numbers", ("wxc", "user-call-settings_auto.py",
                                                    "get_a_list_of_phone_numbers_for_a_person")),
    ("PUT /v1/telephony/config/people/{personId}/numbers", ("wxc", "user-call-settings-2_auto.py",
                                                            "assign_or_unassign_numbers_to_aperson")),
    ("GET /v1/people/{personId}/features/callForwarding", ("wxc", "user-call-settings_auto.py",
                                                           "read_forwarding_settings_for_a_person")),
    ("PUT /v1/people/{personId}/features/callForwarding", ("wxc", "user-call-settings_auto.py",
                                                           "configure_call_forwarding_settings_for_a_person")),
    ("GET /v1/people/{personId}/features/outgoingPermission", ("wxc", "user-call-settings_auto.py",
                                                               "retrieve_outgoing_calling_permissions_settings_for_a_person")),
    ("PUT /v1/people/{personId}/features/outgoingPermission", ("wxc", "user-call-settings_auto.py",
                                                               "modify_outgoing_calling_permissions_settings_for_a_person")),
    ("GET /v1/workspaces/{workspaceId}/features/numbers", ("wxc", "workspace-call-settings_auto.py",
                                                           "list_numbers_associated_with_a_specific_workspace")),
    ("PUT /v1/telephony/config/workspaces/{workspaceId}/numbers", ("wxc", "workspace-call-settings-2_auto.py",
                                                                   "assign_or_unassign_numbers_associated_with_a_specific_workspace")),
    ("GET /v1/workspaces/{workspaceId}/features/callForwarding", ("wxc", "workspace-call-settings_auto.py",
                                                                  "retrieve_call_forwarding_settings_for_a_workspace")),
    ("PUT /v1/workspaces/{workspaceId}/features/callForwarding", ("wxc", "workspace-call-settings_auto.py",
                                                                  "modify_call_forwarding_settings_for_a_workspace")),
    ("GET /v1/workspaces/{workspaceId}/features/outgoingPermission", ("wxc", "workspace-call-settings_auto.py",
                                                                      "retrieve_outgoing_permission_settings_for_a_workspace")),
    ("PUT /v1/workspaces/{workspaceId}/features/outgoingPermission", ("wxc", "workspace-call-settings_auto.py",
                                                                      "modify_outgoing_permission_settings_for_a_workspace")),
]

# The README's known conflicts: the flat outgoingPermission path wxc_sdk 1.41 calls is not in the
# public spec; it is recorded as an alias of the spec's endpoint (same fields), so both are accepted.
# The flat .../callForwarding paths (v21's "4003 fallback") take a different, undocumented body: they
# stay outside the contract (no action may call them; tests/actions checks every request).
ALIASES = {
    "GET /v1/people/{personId}/features/outgoingPermission": ["GET /v1/telephony/config/people/{personId}/outgoingPermission"],
    "PUT /v1/people/{personId}/features/outgoingPermission": ["PUT /v1/telephony/config/people/{personId}/outgoingPermission"],
}
# SCIM /Bulk: the spec's response schema repeats the request's; the operation results a BulkResponse
# carries are those of RFC 7644 §3.7.3 (method, bulkId, version, location, response, status).
EXTRA_RESPONSE_FIELDS = {
    ("POST /identity/scim/{orgId}/v2/Bulk", "200"): {
        "Operations": {"type": "array", "items": {"type": "object", "fields": {
            "method": {"type": "string"}, "bulkId": {"type": "string"}, "version": {"type": "string"},
            "location": {"type": "string"}, "response": {"type": "any"}, "status": {"type": "string"},
        }}},
    },
}
# The move-users reply: wxc_sdk expects {"response": ...}, the 2026 spec the job object itself.
EXTRA_RESPONSE_MODELS = {"POST /v1/telephony/config/jobs/person/moveLocation": "JobDetailsResponseById"}
# Response fields the README lists as conflicts: (endpoint, dotted field path, the other form).
ACCEPTED_FORMS = [
    ("GET /v1/people/{personId}/features/numbers", "phoneNumbers[].directNumber", "phoneNumbers[].external",
     "spec names it directNumber; wxc_sdk 1.41 and its live tests use external: read both"),
    ("GET /v1/workspaces/{workspaceId}/features/numbers", "phoneNumbers[].directNumber", "phoneNumbers[].external",
     "spec names it directNumber; wxc_sdk 1.41 and its live tests use external: read both"),
    ("POST /v1/telephony/config/jobs/person/moveLocation", "(the job object)", "response.(the job object)",
     "2026 spec returns the job object itself on 201; wxc_sdk 1.41 expects it under response: handle both"),
]


