# Tenant isolation and data residency (region): row conditions for reads, checks on the
# body (create) and the stored record (update/delete) for writes.
package crm.authz

deny contains reason("subject.tenant_missing", "the subject carries no tenant") if not tenant

# --- tenant, writes ------------------------------------------------------------------------

deny contains reason("tenant.missing", msg) if {
	action == "create"
	tenant
	not has_key(body, tenant_field)
	msg := concat("", ["a new ", object_name, " must set ", tenant_field, " to the subject's tenant ", tenant])
}

deny contains reason("tenant.mismatch", msg) if {
	action == "create"
	tenant
	has_key(body, tenant_field)
	body[tenant_field] != tenant
	msg := concat("", [
		"a new ", object_name, " sets ", tenant_field, " to ", show(body[tenant_field]),
		", not the subject's tenant ", tenant,
	])
}

deny contains reason("tenant.unverifiable", msg) if {
	stored_write
	catalog_entry
	not current
	msg := concat("", ["the stored ", object_name, " record could not be checked for its tenant; ", action, " refused"])
}

deny contains reason("tenant.mismatch", msg) if {
	stored_write
	tenant
	object.get(current, tenant_field, null) != tenant
	msg := concat("", [
		"the stored ", object_name, " record belongs to tenant ", show(object.get(current, tenant_field, null)),
		", not the subject's tenant ", tenant,
	])
}

deny contains reason("tenant.mismatch", msg) if {
	action == "update"
	tenant
	has_key(body, tenant_field)
	body[tenant_field] != tenant
	msg := concat("", [
		"an update may not move a ", object_name, " to tenant ", show(body[tenant_field]),
		" (subject's tenant is ", tenant, ")",
	])
}

# --- region --------------------------------------------------------------------------------

deny contains reason("region.none", concat("", [subject_label, " is entitled to no region"])) if count(regions) == 0

entitled_regions := concat(", ", sort(regions))

deny contains reason("region.missing", msg) if {
	action == "create"
	count(regions) > 0
	not has_key(body, region_field)
	msg := concat("", ["a new ", object_name, " must set ", region_field, " to one of the subject's regions (", entitled_regions, ")"])
}

deny contains reason("region.not_entitled", msg) if {
	action == "create"
	count(regions) > 0
	has_key(body, region_field)
	not body[region_field] in regions
	msg := concat("", [
		"a new ", object_name, " in region ", show(body[region_field]),
		" is outside the subject's regions (", entitled_regions, ")",
	])
}

deny contains reason("region.not_entitled", msg) if {
	stored_write
	count(regions) > 0
	region := object.get(current, region_field, null)
	not region in regions
	msg := concat("", [
		"the stored ", object_name, " record is in region ", show(region),
		", outside the subject's regions (", entitled_regions, ")",
	])
}

deny contains reason("region.not_entitled", msg) if {
	action == "update"
	count(regions) > 0
	has_key(body, region_field)
	not body[region_field] in regions
	msg := concat("", [
		"an update may not move a ", object_name, " to region ", show(body[region_field]),
		", outside the subject's regions (", entitled_regions, ")",
	])
}

# --- row condition for reads (UCAST) --------------------------------------------------------

rows := {"type": "compound", "operator": "and", "value": [
	{"type": "field", "field": tenant_field, "operator": "eq", "value": tenant},
	{"type": "field", "field": region_field, "operator": "in", "value": sort(regions)},
]} if reads

has_key(obj, key) if _ = obj[key]
