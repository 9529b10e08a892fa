package crm.authz_test

import data.crm.authz

mask := {"replace": {"value": "***"}}

drop := {"remove": {}}

cleared(level) := with_subject(eu_rep, {"clearance": level})

test_public_clearance_masks_everything_but_public if {
	d := decide(read(cleared("public"), "Quote", "list"))
	d.allow == true
	d.obligations.fields == {"Quote": {
		"Name": mask, "OpportunityId": mask, "Status": mask, "Discount": mask,
		"TotalPrice": mask, "Tenant__c": mask, "Region__c": mask,
	}}
}

test_internal_clearance_masks_confidential_removes_restricted if {
	d := decide(read(cleared("internal"), "Contact", "list"))
	d.allow == true
	d.obligations.fields == {"Contact": {"Email": mask, "Phone": mask, "SSN__c": drop, "DateOfBirth__c": drop}}
}

test_confidential_clearance_removes_restricted_only if {
	d := decide(read(cleared("confidential"), "Contact", "list"))
	d.allow == true
	d.obligations.fields == {"Contact": {"SSN__c": drop, "DateOfBirth__c": drop}}
}

test_confidential_clearance_sees_all_of_objects_without_restricted if {
	every obj in ["Account", "Opportunity", "Quote"] {
		d := decide(read(cleared("confidential"), obj, "read"))
		d.allow == true
		not d.obligations.fields
	}
}

test_field_rules_for_every_object if {
	decide(read(cleared("internal"), "Account", "list")).obligations.fields == {"Account": {"AnnualRevenue": mask}}
	decide(read(cleared("internal"), "Opportunity", "list")).obligations.fields == {"Opportunity": {"Amount": mask}}
	decide(read(cleared("internal"), "Quote", "list")).obligations.fields == {"Quote": {"Discount": mask, "TotalPrice": mask}}
}

test_field_rules_cover_the_catalog_even_when_fields_are_named if {
	# the response may carry more than the request names: rules cover every catalog field
	d := decide(mk(cleared("internal"), good_device, {"object": "Contact", "action": "list", "fields": ["Id", "Name"]}))
	d.obligations.fields.Contact == {"Email": mask, "Phone": mask, "SSN__c": drop, "DateOfBirth__c": drop}
}

test_missing_or_unknown_clearance_is_public if {
	public := decide(read(cleared("public"), "Quote", "list")).obligations.fields
	decide(read(without(eu_rep, {"clearance"}), "Quote", "list")).obligations.fields == public
	decide(read(cleared("top-secret"), "Quote", "list")).obligations.fields == public
	decide(read(cleared(3), "Quote", "list")).obligations.fields == public
}

test_uncatalogued_requested_field_gets_default_class if {
	inp := mk(cleared("public"), good_device, {"object": "Quote", "action": "list", "fields": ["Id", "Notes__c"]})
	decide(inp).obligations.fields.Quote.Notes__c == mask
	inp2 := mk(cleared("internal"), good_device, {"object": "Quote", "action": "list", "fields": ["Id", "Notes__c"]})
	not decide(inp2).obligations.fields.Quote.Notes__c
}

test_stricter_default_class_is_data if {
	inp := mk(cleared("confidential"), good_device, {"object": "Quote", "action": "list", "fields": ["Id", "Notes__c"]})
	d := authz.decision with input as inp with data.crm.catalog.default_class as "restricted"
	d.obligations.fields == {"Quote": {"Notes__c": drop}}
}

test_requested_field_matching_catalog_case_insensitively_is_not_extra if {
	inp := mk(cleared("internal"), good_device, {"object": "Quote", "action": "list", "fields": ["discount", "NAME"]})
	decide(inp).obligations.fields == {"Quote": {"Discount": mask, "TotalPrice": mask}}
}

test_unknown_class_in_catalog_is_restricted if {
	catalog := {"tenant_field": "Tenant__c", "region_field": "Region__c", "fields": {"Id": "public", "Secret__c": "top-secret"}}
	d := authz.decision with input as read(cleared("confidential"), "Quote", "list")
		with data.crm.catalog.objects.Quote as catalog
	d.obligations.fields == {"Quote": {"Secret__c": drop}}
}

test_class_without_rule_is_removed if {
	d := authz.decision with input as read(cleared("internal"), "Quote", "list")
		with data.crm.field_rules as {}
	d.obligations.fields == {"Quote": {"Discount": drop, "TotalPrice": drop}}
}

# --- device posture for restricted data -----------------------------------------------------

restricted_rep := cleared("restricted")

test_restricted_clearance_with_good_device_sees_everything if {
	d := decide(read(restricted_rep, "Contact", "list"))
	d.allow == true
	d.obligations == {"rows": d.obligations.rows}
	not d.obligations.fields
}

test_restricted_data_on_unknown_device if {
	d := decide(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list"}))
	d.allow == false
	d.reasons == [{
		"code": "device.unmanaged",
		"message": "restricted data (Contact.DateOfBirth__c, Contact.SSN__c) needs a managed, compliant device; the device is unknown",
	}]
	d.obligations == {}
}

test_restricted_data_without_device_key if {
	inp := object.remove(mk(restricted_rep, "unknown", {"object": "Contact", "action": "read"}), {"device"})
	denied(inp) == ["device.unmanaged"]
}

test_restricted_data_on_unmanaged_device if {
	d := decide(mk(restricted_rep, {"managed": false, "compliant": true, "platform": "linux"}, {"object": "Contact", "action": "read"}))
	d.reasons == [{
		"code": "device.unmanaged",
		"message": "restricted data (Contact.DateOfBirth__c, Contact.SSN__c) needs a managed, compliant device; the device is not managed",
	}]
	denied(mk(restricted_rep, {"managed": "true", "compliant": true}, {"object": "Contact", "action": "read"})) == ["device.unmanaged"]
	denied(mk(restricted_rep, {}, {"object": "Contact", "action": "read"})) == ["device.unmanaged"]
}

test_restricted_data_on_noncompliant_device if {
	d := decide(mk(restricted_rep, {"managed": true, "compliant": false, "platform": "windows"}, {"object": "Contact", "action": "read"}))
	d.reasons == [{
		"code": "device.noncompliant",
		"message": "restricted data (Contact.DateOfBirth__c, Contact.SSN__c) needs a managed, compliant device; the device is managed but not compliant",
	}]
	denied(mk(restricted_rep, {"managed": true, "platform": "windows"}, {"object": "Contact", "action": "read"})) == ["device.noncompliant"]
}

# The gateway also sends risk (when the assertion has one) and age_s: the pack reads neither, so
# they never loosen nor tighten the device rule (managed/compliant decide).
test_device_risk_and_age_do_not_change_the_device_rule if {
	full := {"managed": true, "compliant": true, "platform": "macos", "risk": "high", "age_s": 899}
	d := decide(mk(restricted_rep, full, {"object": "Contact", "action": "list"}))
	d.allow == true
	denied(mk(restricted_rep, object.union(full, {"managed": false}), {"object": "Contact", "action": "read"})) == ["device.unmanaged"]
	denied(mk(restricted_rep, object.union(full, {"compliant": false, "risk": "low", "age_s": 0}), {"object": "Contact", "action": "read"})) == ["device.noncompliant"]
}

test_restricted_fields_named_by_the_request if {
	d := decide(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list", "fields": ["Id", "SSN__c"]}))
	d.reasons == [{
		"code": "device.unmanaged",
		"message": "restricted data (Contact.SSN__c) needs a managed, compliant device; the device is unknown",
	}]
}

test_restricted_fields_named_in_other_case if {
	# SOQL field names are case-insensitive: lower case must not bypass the device check
	d := decide(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list", "fields": ["Id", "ssn__C"]}))
	d.reasons[0].message == "restricted data (Contact.SSN__c) needs a managed, compliant device; the device is unknown"
}

test_request_without_restricted_fields_needs_no_device if {
	d := decide(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list", "fields": ["Id", "Name", "Email"]}))
	d.allow == true
	d.reasons == [{"code": "allow.role", "message": "role sales may list Contact"}]
	allowed(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list", "fields": []}))
}

test_objects_without_restricted_fields_need_no_device if {
	every obj in ["Account", "Opportunity", "Quote"] {
		allowed(mk(restricted_rep, "unknown", {"object": obj, "action": "list"}))
	}
}

test_uncleared_subject_gets_removal_not_device_check if {
	d := decide(mk(cleared("confidential"), "unknown", {"object": "Contact", "action": "list", "fields": ["SSN__c"]}))
	d.allow == true
	d.obligations.fields.Contact.SSN__c == drop
}

test_restricted_write_needs_device if {
	admin := with_subject(restricted_rep, {"roles": ["admin"]})
	inp := mk(admin, "unknown", {"object": "Contact", "action": "update", "fields": [], "current": acme_eu, "body": {"DateOfBirth__c": "1990-01-01"}})
	d := decide(inp)
	d.reasons == [{
		"code": "device.unmanaged",
		"message": "restricted data (Contact.DateOfBirth__c) needs a managed, compliant device; the device is unknown",
	}]
}

test_device_class_threshold_is_data if {
	d := authz.decision with input as mk(restricted_rep, "unknown", {"object": "Quote", "action": "list", "fields": ["Discount"]})
		with data.crm.device.required_from_class as "confidential"
	codes(d) == ["device.unmanaged"]
	d.reasons[0].message == "confidential data (Quote.Discount) needs a managed, compliant device; the device is unknown"
}

test_non_plain_field_lists_count_as_all_fields if {
	every fields in [["FIELDS(ALL)"], ["Id", "MAX(DateOfBirth__c)"], ["Id", 7], ["Id", ""], "SSN__c", {"SSN__c": true}] {
		d := decide(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list", "fields": fields}))
		d.reasons == [{
			"code": "device.unmanaged",
			"message": "restricted data (Contact.DateOfBirth__c, Contact.SSN__c) needs a managed, compliant device; the device is unknown",
		}]
	}
}

test_aliased_restricted_field_is_touched if {
	d := decide(mk(restricted_rep, "unknown", {"object": "Contact", "action": "list", "fields": ["c.Id", "c.SSN__c"]}))
	d.reasons[0].message == "restricted data (Contact.SSN__c) needs a managed, compliant device; the device is unknown"
}

test_relationship_fields_are_not_extra_fields if {
	inp := mk(cleared("internal"), good_device, {"object": "Contact", "action": "list", "fields": ["Id", "Account.Name", "Notes__c"]})
	d := decide(inp)
	d.obligations.fields.Contact == {"Email": mask, "Phone": mask, "SSN__c": drop, "DateOfBirth__c": drop}
	p := decide(mk(cleared("public"), good_device, {"object": "Quote", "action": "list", "fields": ["q.Id", "Opportunity.Name", "Notes__c"]}))
	p.obligations.fields.Quote.Notes__c == mask
	not p.obligations.fields.Quote["Opportunity.Name"]
	not p.obligations.fields.Quote["q.Id"]
}

test_uncatalogued_field_of_a_restricted_default_class_needs_device if {
	inp := mk(restricted_rep, "unknown", {"object": "Quote", "action": "list", "fields": ["Id", "Notes__c"]})
	d := authz.decision with input as inp with data.crm.catalog.default_class as "restricted"
	d.reasons == [{
		"code": "device.unmanaged",
		"message": "restricted data (Quote.Notes__c) needs a managed, compliant device; the device is unknown",
	}]
	allowed(mk(restricted_rep, "unknown", {"object": "Quote", "action": "list", "fields": ["Id", "Notes__c"]}))
}
