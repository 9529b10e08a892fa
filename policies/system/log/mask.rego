# Decision-log minimization, OPA's convention: the gateway evaluates data.system.log.mask on
# every decision record before writing it, with the record as input (`input.input` is the policy
# input the decision saw, `input.path` the entrypoint). Each member is a JSON Pointer into the
# record to erase ("/input/…", listed in the record's `erased`) or an object
# {"op": "upsert", "path": "/input/…", "value": …} (the value replaces the logged one; the path is
# listed in `masked`). A rule that fails to evaluate or returns anything else refuses the request
# (503 audit.mask_failed): the unmasked input is never written. See docs/policies.md.
#
# Default: write-body fields (input.resource.body) whose class in the catalog ranks at or above
# data.crm.log.erase_body_from_class (confidential: so confidential and restricted) are erased,
# except the fields data.crm.log.keep_body_fields lists per object. The policy still sees them.
package system.log

log_config := c if {
	c := data.crm.log
	is_object(c)
} else := {}

levels := data.crm.clearance_levels

level_rank := {level: i | some i, level in levels}

# A class the catalog does not know ranks highest (fail closed: it is erased).
class_rank(c) := object.get(level_rank, c, count(levels) - 1)

erase_from := class_rank(object.get(log_config, "erase_body_from_class", "confidential"))

logged := i if {
	i := input.input
	is_object(i)
} else := {}

logged_resource := r if {
	r := logged.resource
	is_object(r)
} else := {}

logged_body := b if {
	b := logged_resource.body
	is_object(b)
} else := {}

logged_object := o if {
	o := logged_resource.object
	is_string(o)
} else := ""

catalog_entry := object.get(data.crm.catalog.objects, logged_object, {})

catalog_fields := object.get(catalog_entry, "fields", {})

# Lower-cased name → the catalog's spelling (body keys are compared case-insensitively, as
# Salesforce reads them).
catalog_keys := k if {
	k := catalog_entry.field_keys
} else := {lower(f): f | some f, _ in catalog_fields}

# A body field's class: its catalog class, else the catalog's default class.
body_class(f) := c if {
	c := catalog_fields[catalog_keys[lower(f)]]
} else := data.crm.catalog.default_class

keep := {lower(f) | some f in object.get(object.get(log_config, "keep_body_fields", {}), logged_object, [])}

# RFC 6901 escaping of one reference token.
pointer_token(s) := replace(replace(s, "~", "~0"), "/", "~1")

mask contains concat("", ["/input/resource/body/", pointer_token(f)]) if {
	some f, _ in logged_body
	not lower(f) in keep
	class_rank(body_class(f)) >= erase_from
}
