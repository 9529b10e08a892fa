# The default decision-log mask (policies/system/log/mask.rego): write-body fields classified
# confidential or restricted are erased from the logged input, except data.crm.log.keep_body_fields.
package system.log_test

import data.system.log

event(object, body) := {"path": "crm/authz/decision", "input": {
	"request": {"method": "POST", "path": concat("", ["/services/data/v60.0/sobjects/", object])},
	"resource": {"object": object, "action": "create", "body": body},
}}

test_contact_pii_in_body_is_erased if {
	m := log.mask with input as event("Contact", {"Email": "ann@example.com", "SSN__c": "123", "Name": "Ann", "Tenant__c": "acme"})
	m == {"/input/resource/body/Email", "/input/resource/body/SSN__c"}
}

test_field_names_are_matched_case_insensitively if {
	m := log.mask with input as event("Contact", {"email": "ann@example.com", "phone": "1"})
	m == {"/input/resource/body/email", "/input/resource/body/phone"}
}

test_quote_discount_is_kept_by_default if {
	m := log.mask with input as event("Quote", {"Discount": 15, "TotalPrice": 100, "Tenant__c": "acme"})
	m == {"/input/resource/body/TotalPrice"}
}

test_keep_body_fields_from_data if {
	m := log.mask with input as event("Contact", {"Email": "a@b", "SSN__c": "1"})
		with data.crm.log.keep_body_fields as {"Contact": ["email"]}
	m == {"/input/resource/body/SSN__c"}
}

test_erase_from_class_from_data if {
	m := log.mask with input as event("Contact", {"Email": "a@b", "SSN__c": "1", "Name": "Ann"})
		with data.crm.log.erase_body_from_class as "restricted"
	m == {"/input/resource/body/SSN__c"}
}

test_unknown_field_gets_default_class_and_is_kept if {
	m := log.mask with input as event("Contact", {"Nickname__c": "x"})
	m == set()
}

test_unknown_class_is_erased if {
	m := log.mask with input as event("Contact", {"Email": "a@b"})
		with data.crm.catalog.objects.Contact.fields.Email as "secret"
	m == {"/input/resource/body/Email"}
}

test_pointer_tokens_are_escaped if {
	m := log.mask with input as event("Contact", {"a/b~c": 1})
		with data.crm.catalog.default_class as "restricted"
	m == {"/input/resource/body/a~1b~0c"}
}

test_no_body_no_resource_nothing_to_erase if {
	log.mask == set() with input as {"input": {"request": {"method": "GET", "path": "/x"}}}
	log.mask == set() with input as {}
	log.mask == set() with input as event("Contact", "not an object")
}
