# Filtering and sorting on fields (resource.filter_fields): classification.filter_forbidden
# and the device rule for restricted filter fields.
package crm.authz_test

import data.crm.authz

# A Contact list by a subject of the given clearance that selects Id and filters on `filters`.
filtering(level, device, obj, filters) := mk(
	with_subject(eu_rep, {"clearance": level}),
	device,
	{"object": obj, "action": "list", "fields": ["Id"], "filter_fields": filters},
)

test_filter_on_field_above_clearance_is_denied if {
	d := decide(filtering("confidential", good_device, "Contact", ["SSN__c"]))
	d == {
		"allow": false, "reasons": [{
			"code": "classification.filter_forbidden",
			"message": "filtering on Contact.SSN__c needs clearance restricted",
		}],
		"obligations": {},
	}
}

test_filter_on_field_within_clearance_is_allowed if {
	d := decide(filtering("confidential", good_device, "Contact", ["Email", "Name", "Region__c"]))
	d.allow == true
	d.obligations.fields == {"Contact": {"SSN__c": {"remove": {}}, "DateOfBirth__c": {"remove": {}}}}
}

test_filter_fields_grouped_by_needed_clearance_and_sorted if {
	inp := filtering("internal", good_device, "Contact", ["SSN__c", "Phone", "Name", "Email", "DateOfBirth__c"])
	decide(inp).reasons == [
		{"code": "classification.filter_forbidden", "message": "filtering on Contact.DateOfBirth__c, Contact.SSN__c needs clearance restricted"},
		{"code": "classification.filter_forbidden", "message": "filtering on Contact.Email, Contact.Phone needs clearance confidential"},
	]
}

test_filter_on_internal_field_by_public_subject_is_denied if {
	# ORDER BY Region__c leaks the region order even though Region__c is masked
	messages(decide(filtering("public", good_device, "Contact", ["Region__c"]))) == ["filtering on Contact.Region__c needs clearance internal"]
	allowed(filtering("public", good_device, "Contact", ["Id"]))
}

test_filter_field_matches_catalog_case_insensitively if {
	messages(decide(filtering("confidential", good_device, "Contact", ["ssn__C"]))) == ["filtering on Contact.SSN__c needs clearance restricted"]
}

test_dotted_filter_field_takes_the_highest_class_of_its_last_segment if {
	# a child subquery's filter on Contacts.SSN__c from Account: Account has no SSN__c, Contact does
	messages(decide(filtering("confidential", good_device, "Account", ["Contacts.SSN__c"]))) == ["filtering on Account.Contacts.SSN__c needs clearance restricted"]

	# Email is confidential on Contact: over-matching Owner.Email only makes the check stricter
	messages(decide(filtering("internal", good_device, "Opportunity", ["Owner.Email"]))) == ["filtering on Opportunity.Owner.Email needs clearance confidential"]
	allowed(filtering("internal", good_device, "Contact", ["Account.Name", "Account.Id"]))
}

test_uncatalogued_filter_field_gets_default_class if {
	messages(decide(filtering("public", good_device, "Quote", ["Notes__c", "Owner.Nickname__c"]))) == ["filtering on Quote.Notes__c, Quote.Owner.Nickname__c needs clearance internal"]
	allowed(filtering("internal", good_device, "Quote", ["Notes__c", "Owner.Nickname__c"]))
	d := authz.decision with input as filtering("confidential", good_device, "Quote", ["Notes__c"])
		with data.crm.catalog.default_class as "restricted"
	codes(d) == ["classification.filter_forbidden"]
}

test_filter_entry_that_is_not_a_field_path_ranks_highest if {
	messages(decide(filtering("confidential", good_device, "Contact", ["MAX(Name)", 42]))) == ["filtering on Contact.42, Contact.MAX(Name) needs clearance restricted"]
	messages(decide(filtering("confidential", good_device, "Contact", "Name"))) == [`filtering on Contact.["Name"] needs clearance restricted`]
	allowed(filtering("restricted", good_device, "Contact", ["MAX(Name)", 42]))
}

test_no_or_empty_filter_fields_change_nothing if {
	base := mk(eu_rep, good_device, {"object": "Contact", "action": "list", "fields": ["Id"]})
	json.marshal(decide(base)) == json.marshal(decide(filtering("internal", good_device, "Contact", [])))
	allowed(base)
}

test_filter_field_order_does_not_change_the_decision if {
	a := decide(filtering("internal", good_device, "Contact", ["SSN__c", "Email", "Phone"]))
	b := decide(filtering("internal", good_device, "Contact", ["Phone", "SSN__c", "Email", "Phone"]))
	json.marshal(a) == json.marshal(b)
}

# --- device posture ---------------------------------------------------------------------------

test_restricted_filter_field_needs_a_managed_device if {
	allowed(filtering("restricted", "unknown", "Contact", ["Name"]))
	d := decide(filtering("restricted", "unknown", "Contact", ["ssn__c"]))
	d.reasons == [{"code": "device.unmanaged", "message": "restricted data (Contact.SSN__c) needs a managed, compliant device; the device is unknown"}]
	e := decide(filtering("restricted", {"managed": true, "compliant": false}, "Contact", ["DateOfBirth__c"]))
	e.reasons == [{"code": "device.noncompliant", "message": "restricted data (Contact.DateOfBirth__c) needs a managed, compliant device; the device is managed but not compliant"}]
	allowed(filtering("restricted", good_device, "Contact", ["SSN__c"]))
}

test_restricted_filter_and_select_fields_listed_once if {
	inp := mk(with_subject(eu_rep, {"clearance": "restricted"}), "unknown", {"object": "Contact", "action": "list", "fields": ["Id", "SSN__c"], "filter_fields": ["SSN__c", "Contacts.SSN__c"]})
	messages(decide(inp)) == ["restricted data (Contact.Contacts.SSN__c, Contact.SSN__c) needs a managed, compliant device; the device is unknown"]
}

test_unparseable_filter_entry_needs_a_managed_device_when_cleared if {
	codes(decide(filtering("restricted", "unknown", "Contact", [{"x": 1}]))) == ["device.unmanaged"]
}

test_filter_field_above_clearance_needs_no_device_but_is_denied if {
	# the subject is not cleared: the filter denial applies, not the device rule
	codes(decide(filtering("confidential", "unknown", "Contact", ["SSN__c"]))) == ["classification.filter_forbidden"]
}
