package crm.authz_test

import data.crm.authz

# --- subject tenant ------------------------------------------------------------------------

test_subject_without_tenant_denied if {
	d := decide(read(without(eu_rep, {"tenant"}), "Quote", "list"))
	d.allow == false
	d.reasons == [{"code": "subject.tenant_missing", "message": "the subject carries no tenant"}]
	d.obligations == {}
}

test_empty_or_non_string_tenant_denied if {
	every t in ["", 42, null, ["acme"]] {
		denied(read(with_subject(eu_rep, {"tenant": t}), "Quote", "list")) == ["subject.tenant_missing"]
	}
}

test_tenant_missing_subject_does_not_add_write_tenant_reasons if {
	s := without(eu_rep, {"tenant"})
	denied(mk(s, good_device, {"object": "Quote", "action": "create", "body": acme_eu})) == ["subject.tenant_missing"]
	denied(mk(s, good_device, {"object": "Quote", "action": "update", "current": acme_eu})) == ["subject.tenant_missing"]
}

# --- row condition for reads ---------------------------------------------------------------

test_read_rows_condition if {
	every act in ["read", "list"] {
		d := decide(read(eu_rep, "Opportunity", act))
		d.obligations.rows == {"type": "compound", "operator": "and", "value": [
			{"type": "field", "field": "Tenant__c", "operator": "eq", "value": "acme"},
			{"type": "field", "field": "Region__c", "operator": "in", "value": ["EU"]},
		]}
	}
}

test_rows_use_the_catalog_fields if {
	d := authz.decision with input as read(eu_rep, "Quote", "list")
		with data.crm.catalog.objects.Quote as {"tenant_field": "tenant_id", "region_field": "region", "fields": {}}
	d.obligations.rows.value[0].field == "tenant_id"
	d.obligations.rows.value[1].field == "region"
}

test_rows_regions_sorted_and_unique if {
	d := decide(read(with_subject(eu_rep, {"regions": ["US", "EU", "APAC", "EU"]}), "Quote", "list"))
	d.obligations.rows.value[1].value == ["APAC", "EU", "US"]
}

test_no_rows_condition_for_writes if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": acme_eu}))
	d.allow == true
	not d.obligations.rows
}

# --- create --------------------------------------------------------------------------------

test_create_without_tenant if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Region__c": "EU"}}))
	d.reasons == [{"code": "tenant.missing", "message": "a new Quote must set Tenant__c to the subject's tenant acme"}]
	denied(mk(eu_rep, good_device, {"object": "Quote", "action": "create"})) == ["region.missing", "tenant.missing"]
}

test_create_in_other_tenant if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "globex", "Region__c": "EU"}}))
	d.reasons == [{"code": "tenant.mismatch", "message": "a new Quote sets Tenant__c to globex, not the subject's tenant acme"}]
}

test_create_with_null_or_non_string_tenant if {
	every t in [null, 1, {"id": "acme"}] {
		denied(mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": t, "Region__c": "EU"}})) == ["tenant.mismatch"]
	}
}

test_create_in_own_tenant_and_region if {
	allowed(mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": acme_eu}))
}

# --- update / delete -----------------------------------------------------------------------

test_update_without_current_unverifiable if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "id": "0Q0"}))
	d.reasons == [{"code": "tenant.unverifiable", "message": "the stored Quote record could not be checked for its tenant; update refused"}]
	denied(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": "acme"})) == ["tenant.unverifiable"]
}

test_delete_without_current_unverifiable if {
	admin := with_subject(eu_rep, {"roles": ["admin"]})
	denied(mk(admin, good_device, {"object": "Quote", "action": "delete", "id": "0Q0"})) == ["tenant.unverifiable"]
}

test_update_of_other_tenants_record if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": {"Tenant__c": "globex", "Region__c": "EU"}}))
	d.reasons == [{"code": "tenant.mismatch", "message": "the stored Quote record belongs to tenant globex, not the subject's tenant acme"}]
}

test_delete_of_other_tenants_record if {
	admin := with_subject(eu_rep, {"roles": ["admin"]})
	denied(mk(admin, good_device, {"object": "Quote", "action": "delete", "current": {"Tenant__c": "globex", "Region__c": "EU"}})) == ["tenant.mismatch"]
}

test_update_of_record_without_tenant_field if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": {"Region__c": "EU"}}))
	d.reasons == [{"code": "tenant.mismatch", "message": "the stored Quote record belongs to tenant null, not the subject's tenant acme"}]
}

test_update_moving_record_to_other_tenant if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": acme_eu, "body": {"Tenant__c": "globex"}}))
	d.reasons == [{"code": "tenant.mismatch", "message": "an update may not move a Quote to tenant globex (subject's tenant is acme)"}]
}

test_update_restating_own_tenant_allowed if {
	allowed(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": acme_eu, "body": acme_eu}))
}

test_update_of_other_tenant_moved_reports_both if {
	inp := mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": {"Tenant__c": "globex", "Region__c": "EU"}, "body": {"Tenant__c": "initech"}})
	denied(inp) == ["tenant.mismatch", "tenant.mismatch"]
	messages(decide(inp)) == [
		"an update may not move a Quote to tenant initech (subject's tenant is acme)",
		"the stored Quote record belongs to tenant globex, not the subject's tenant acme",
	]
}

# --- region --------------------------------------------------------------------------------

test_subject_without_regions if {
	every s in [without(eu_rep, {"regions"}), with_subject(eu_rep, {"regions": []}), with_subject(eu_rep, {"regions": "EU"}), with_subject(eu_rep, {"regions": [""]})] {
		d := decide(read(s, "Quote", "list"))
		d.reasons == [{"code": "region.none", "message": "user u-eu-rep is entitled to no region"}]
	}
}

test_region_none_on_write_reports_no_other_region_reason if {
	s := with_subject(eu_rep, {"regions": []})
	denied(mk(s, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "acme", "Region__c": "US"}})) == ["region.none"]
	denied(mk(s, good_device, {"object": "Quote", "action": "update", "current": {"Tenant__c": "acme", "Region__c": "US"}})) == ["region.none"]
}

test_create_without_region if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "acme"}}))
	d.reasons == [{"code": "region.missing", "message": "a new Quote must set Region__c to one of the subject's regions (EU)"}]
}

test_create_in_other_region if {
	s := with_subject(eu_rep, {"regions": ["UK", "EU"]})
	d := decide(mk(s, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "acme", "Region__c": "US"}}))
	d.reasons == [{"code": "region.not_entitled", "message": "a new Quote in region US is outside the subject's regions (EU, UK)"}]
}

test_create_in_second_region_allowed if {
	s := with_subject(eu_rep, {"regions": ["US", "EU"]})
	allowed(mk(s, good_device, {"object": "Quote", "action": "create", "body": {"Tenant__c": "acme", "Region__c": "US"}}))
}

test_update_of_record_in_other_region if {
	d := decide(mk(eu_rep, good_device, {"object": "Opportunity", "action": "update", "current": {"Tenant__c": "acme", "Region__c": "US"}}))
	d.reasons == [{"code": "region.not_entitled", "message": "the stored Opportunity record is in region US, outside the subject's regions (EU)"}]
	denied(mk(eu_rep, good_device, {"object": "Opportunity", "action": "update", "current": {"Tenant__c": "acme"}})) == ["region.not_entitled"]
}

test_delete_of_record_in_other_region if {
	admin := with_subject(eu_rep, {"roles": ["admin"]})
	denied(mk(admin, good_device, {"object": "Quote", "action": "delete", "current": {"Tenant__c": "acme", "Region__c": "US"}})) == ["region.not_entitled"]
}

test_update_moving_record_to_other_region if {
	d := decide(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "current": acme_eu, "body": {"Region__c": "US"}}))
	d.reasons == [{"code": "region.not_entitled", "message": "an update may not move a Quote to region US, outside the subject's regions (EU)"}]
}

test_update_without_current_reports_only_unverifiable if {
	denied(mk(eu_rep, good_device, {"object": "Quote", "action": "update", "body": {"Region__c": "EU"}})) == ["tenant.unverifiable"]
}
