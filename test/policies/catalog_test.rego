# The catalog's precomputed lookup maps (data.crm.catalog.objects.<Object>.field_keys) and the
# fallback for catalog entries without one.
package crm.authz_test

import data.crm.authz

# field_keys must be exactly the object's field names, lower-cased, mapped to their spelling.
# Regenerate it whenever fields are added, renamed or removed; this test fails until then.
test_field_keys_match_the_catalog_fields if {
	every _, o in data.crm.catalog.objects {
		o.field_keys == {lower(f): f | some f, _ in o.fields}
	}
}

# Field names are case-insensitive: no two fields of an object may differ only in case.
test_field_names_are_unique_ignoring_case if {
	every _, o in data.crm.catalog.objects {
		count({lower(f) | some f, _ in o.fields}) == count(o.fields)
	}
}

# An entry without field_keys (as in tests that replace an object) is looked up all the same.
test_catalog_entry_without_field_keys if {
	quote := {"tenant_field": "Tenant__c", "region_field": "Region__c", "fields": {"Id": "public", "Secret__c": "restricted"}}
	d := authz.decision with input as filtering("confidential", good_device, "Quote", ["secret__C", "Notes__c"])
		with data.crm.catalog.objects.Quote as quote
	messages(d) == ["filtering on Quote.Secret__c needs clearance restricted"]
	e := authz.decision with input as filtering("confidential", good_device, "Account", ["Quotes.SECRET__c"])
		with data.crm.catalog.objects.Quote as quote
	messages(e) == ["filtering on Account.Quotes.SECRET__c needs clearance restricted"]
	f := authz.decision with input as mk(with_subject(eu_rep, {"clearance": "public"}), good_device, {"object": "Quote", "action": "list", "fields": ["ID", "Name"]})
		with data.crm.catalog.objects.Quote as quote
	f.obligations.fields == {"Quote": {"Name": mask, "Secret__c": drop}}
}
