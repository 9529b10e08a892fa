# The decision contract: shape, ordering and determinism.
package crm.authz_test

import data.crm.authz

sample_inputs := [
	read(eu_rep, "Contact", "list"),
	read(eu_rep, "Lead", "list"),
	read(without(eu_rep, {"tenant"}), "Quote", "read"),
	mk(quote_bot, "unknown", {"object": "Quote", "action": "create", "body": {"Discount": 35}}),
	mk(quote_bot, "unknown", {"object": "Contact", "action": "list"}),
	mk(with_subject(eu_rep, {"clearance": "restricted"}), "unknown", {"object": "Contact", "action": "read"}),
	{},
	{"subject": "nobody", "resource": []},
]

test_decision_always_has_exactly_the_three_keys if {
	every inp in sample_inputs {
		d := decide(inp)
		object.keys(d) == {"allow", "reasons", "obligations"}
		is_boolean(d.allow)
		is_array(d.reasons)
		is_object(d.obligations)
		count(d.reasons) > 0
		every r in d.reasons {
			object.keys(r) == {"code", "message"}
			is_string(r.code)
			is_string(r.message)
			r.message != ""
		}
	}
}

test_denials_have_reasons_and_no_obligations if {
	every inp in array.slice(sample_inputs, 1, count(sample_inputs)) {
		d := decide(inp)
		d.allow == false
		count(d.reasons) > 0
		d.obligations == {}
	}
}

test_empty_input_is_denied_with_every_applicable_reason if {
	denied({}) == ["action.not_permitted", "region.none", "resource.unclassified", "subject.tenant_missing"]
}

test_allow_obligation_keys if {
	d := decide(read(eu_rep, "Contact", "list"))
	object.keys(d.obligations) == {"rows", "fields"}
	e := decide(read(with_subject(eu_rep, {"clearance": "restricted"}), "Contact", "list"))
	object.keys(e.obligations) == {"rows"}
	f := decide(mk(with_subject(eu_rep, {"clearance": "restricted"}), good_device, {"object": "Quote", "action": "create", "body": acme_eu}))
	f.obligations == {}
}

test_reasons_sorted_by_code_then_message if {
	inp := mk(with_subject(without(quote_bot, {"tenant"}), {"scopes": [], "regions": []}), "unknown", {"object": "Contact", "action": "list"})
	d := decide(inp)
	codes(d) == ["action.not_permitted", "automation.object_forbidden", "region.none", "subject.tenant_missing"]
	pairs := [[r.code, r.message] | some r in d.reasons]
	pairs == sort(pairs)
}

test_same_code_sorted_by_message if {
	inp := mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": {"Tenant__c": "globex", "Region__c": "US"}, "body": {"Tenant__c": "initech", "Region__c": "APAC"}})
	d := decide(inp)
	pairs := [[r.code, r.message] | some r in d.reasons]
	pairs == sort(pairs)
	codes(d) == ["region.not_entitled", "region.not_entitled", "tenant.mismatch", "tenant.mismatch"]
}

test_decision_independent_of_input_array_order if {
	a := with_subject(eu_rep, {"roles": ["viewer", "sales"], "regions": ["US", "EU"], "scopes": ["crm.write", "crm.read"]})
	b := with_subject(eu_rep, {"roles": ["sales", "viewer"], "regions": ["EU", "US", "EU"], "scopes": ["crm.read", "crm.write"]})
	json.marshal(decide(read(a, "Contact", "list"))) == json.marshal(decide(read(b, "Contact", "list")))
	fa := mk(with_subject(a, {"clearance": "restricted"}), "unknown", {"object": "Contact", "action": "list", "fields": ["SSN__c", "DateOfBirth__c"]})
	fb := mk(with_subject(b, {"clearance": "restricted"}), "unknown", {"object": "Contact", "action": "list", "fields": ["DateOfBirth__c", "SSN__c"]})
	json.marshal(decide(fa)) == json.marshal(decide(fb))
}

test_env_and_request_do_not_change_the_decision if {
	inp := read(eu_rep, "Contact", "list")
	later := object.union(inp, {"env": {"now": "2031-01-01T00:00:00.000Z", "gateway_region": "US"}, "request": {"method": "POST"}})
	json.marshal(decide(inp)) == json.marshal(decide(later))
}

test_default_deny_safety_net if {
	d := authz.decision with input as read(eu_rep, "Quote", "list")
		with authz.deny as set()
		with authz.grants as set()
	d == {"allow": false, "reasons": [{"code": "policy.default_deny", "message": "no rule allowed the request"}], "obligations": {}}
}

test_no_allow_when_any_deny_reason if {
	d := authz.decision with input as read(eu_rep, "Quote", "list")
		with authz.deny as {{"code": "x.y", "message": "z"}}
	d == {"allow": false, "reasons": [{"code": "x.y", "message": "z"}], "obligations": {}}
}

# Every code the policy can emit is documented in docs/policies.md; this list is the registry.
documented_deny_codes := {
	"action.not_permitted", "automation.discount_limit", "automation.object_forbidden",
	"classification.filter_forbidden", "device.noncompliant", "device.unmanaged",
	"policy.default_deny", "region.missing", "region.none", "region.not_entitled",
	"request.discount_invalid", "resource.unclassified", "subject.tenant_missing",
	"tenant.mismatch", "tenant.missing", "tenant.unverifiable",
}

documented_allow_codes := {"allow.role", "allow.scope"}

test_sample_codes_are_registered if {
	every inp in sample_inputs {
		every c in codes(decide(inp)) {
			c in (documented_deny_codes | documented_allow_codes)
		}
	}
}

# One input per deny code: every registered code is reachable and means what the docs say.
code_examples := {
	"action.not_permitted": read(eu_rep, "Quote", "delete"),
	"automation.discount_limit": mk(quote_bot, "unknown", {"object": "Quote", "action": "create", "body": object.union(acme_eu, {"Discount": 35})}),
	"automation.object_forbidden": mk(quote_bot, "unknown", {"object": "Contact", "action": "list"}),
	"classification.filter_forbidden": mk(eu_rep, good_device, {"object": "Contact", "action": "list", "fields": ["Id"], "filter_fields": ["SSN__c"]}),
	"device.noncompliant": mk(with_subject(eu_rep, {"clearance": "restricted"}), {"managed": true, "compliant": false}, {"object": "Contact", "action": "read"}),
	"device.unmanaged": mk(with_subject(eu_rep, {"clearance": "restricted"}), "unknown", {"object": "Contact", "action": "read"}),
	"region.missing": mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "acme"}}),
	"region.none": read(with_subject(eu_rep, {"regions": []}), "Quote", "list"),
	"region.not_entitled": mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "acme", "Region__c": "US"}}),
	"request.discount_invalid": mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": object.union(acme_eu, {"Discount": "high"})}),
	"resource.unclassified": read(eu_rep, "Lead", "list"),
	"subject.tenant_missing": read(without(eu_rep, {"tenant"}), "Quote", "list"),
	"tenant.mismatch": mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "globex", "Region__c": "EU"}}),
	"tenant.missing": mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Region__c": "EU"}}),
	"tenant.unverifiable": mk(eu_rep, good_device, {"object": "Quote", "action": "update"}),
}

test_every_registered_deny_code_is_reachable if {
object.keys(code_examples) |
	{"policy.default_deny"} == documented_deny_codes
	every code, inp in code_examples {
		code in denied(inp)
	}
}
