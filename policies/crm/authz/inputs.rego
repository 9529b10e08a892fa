# Input normalization. Every other rule reads the request through these values, never
# through `input` directly, so that a missing or mistyped input key turns into a safe
# default (an empty set, "", "unknown") instead of an undefined rule or a builtin error.
package crm.authz

subject := s if {
	s := input.subject
	is_object(s)
} else := {}

resource := r if {
	r := input.resource
	is_object(r)
} else := {}

# The subject's tenant; undefined when absent, empty or not a string.
tenant := t if {
	t := subject.tenant
	is_string(t)
	t != ""
}

subject_kind := k if {
	k := subject.kind
	is_string(k)
} else := ""

is_user if subject_kind == "user"

is_automation if subject_kind == "automation"

# How messages name the caller: "user u-eu-rep", "automation quote-bot".
automation_name := c if {
	c := subject.client_id
	is_string(c)
	c != ""
} else := i if {
	i := subject.id
	is_string(i)
	i != ""
} else := "(unnamed)"

subject_label := concat(" ", ["automation", automation_name]) if is_automation

else := concat(" ", ["user", i]) if {
	is_user
	i := subject.id
	is_string(i)
	i != ""
} else := "the subject"

string_set(xs) := {x | some x in xs; is_string(x); x != ""} if is_array(xs)

else := set()

roles := string_set(object.get(subject, "roles", []))

scopes := string_set(object.get(subject, "scopes", []))

regions := string_set(object.get(subject, "regions", []))

object_name := o if {
	o := resource.object
	is_string(o)
} else := ""

action := a if {
	a := resource.action
	is_string(a)
} else := ""

# How messages name the object and the action, also when they are missing or not strings.
object_label := label(resource, "object", object_name)

action_label := label(resource, "action", action)

label(obj, key, normalized) := normalized if {
	normalized != ""
} else := shown if {
	shown := show(obj[key])
} else := "(none)"

reads if action in {"read", "list"}

writes if action in {"create", "update"}

# Actions on a stored record (resource.current).
stored_write if action in {"update", "delete"}

# Fields the request names (e.g. a SOQL SELECT list); undefined when the request names none,
# which means "all fields".
requested_fields := string_set(resource.fields) if is_array(resource.fields)

# Fields the request filters or sorts on (a SOQL WHERE / ORDER BY); empty when it names none.
# A value that is not an array counts as one entry that is not a field path (fail closed): the
# value wrapped in an array, so that even a string is not mistaken for a field name.
filter_fields := {f | some f in fs} if {
	fs := resource.filter_fields
	is_array(fs)
} else := {[fs]} if {
	fs := resource.filter_fields
} else := set()

body := b if {
	b := resource.body
	is_object(b)
} else := {}

# The record as currently stored (update/delete); undefined when the gateway could not fetch it.
current := c if {
	c := resource.current
	is_object(c)
}

device := d if {
	d := input.device
	is_object(d)
} else := "unknown"

device_managed if device.managed == true

device_compliant if device.compliant == true

# Catalog entry of the requested object; undefined for an unclassified object.
catalog_entry := data.crm.catalog.objects[object_name]

tenant_field := catalog_entry.tenant_field

region_field := catalog_entry.region_field

# A value for a message: strings as they are, anything else as JSON.
show(x) := x if is_string(x)

else := json.marshal(x)

reason(code, message) := {"code": code, "message": message}
