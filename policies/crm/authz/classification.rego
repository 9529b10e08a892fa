# Field classification: mask or remove fields above the subject's clearance, refuse filtering
# or sorting on such fields, and require a managed, compliant device when a subject cleared for
# restricted data touches it.
#
# Evaluated on every request: rules are ordered so that the common allow path does the least
# work (cheap conditions first, names and messages only where a reason needs them).
package crm.authz

levels := data.crm.clearance_levels

# Rank of every known class: its index in data.crm.clearance_levels.
level_rank := {level: i | some i, level in levels}

top_rank := count(levels) - 1

# Rank of a class. A class the catalog does not know is ranked as the highest (fail closed: an
# unknown class is treated as restricted).
class_rank(c) := object.get(level_rank, c, top_rank)

# Rank of the subject's clearance. Absent or unknown clearance ranks lowest (public).
clearance_rank := r if {
	r := level_rank[subject.clearance]
} else := 0

catalog_fields := object.get(catalog_entry, "fields", {})

default_class := data.crm.catalog.default_class

default_rank := class_rank(default_class)

# Salesforce field names are case-insensitive: names are compared on lower case, through an
# object's field_keys (lower-cased name → the catalog's spelling). data.json carries it
# precomputed for every catalogued object, so no request lower-cases the catalog; an entry
# without one (e.g. a test's `with data.crm.catalog.objects.X as …`) gets it computed.
# test/policies/catalog_test.rego checks that the precomputed maps match the fields.
field_keys(o) := k if {
	k := o.field_keys
} else := {lower(f): f | some f, _ in object.get(o, "fields", {})}

catalog_keys := field_keys(catalog_entry)

# Fields the request names that the catalog does not know: they get the default class. Every
# catalog field of the object has its own class.
extra_fields contains f if {
	catalog_entry
	some f in requested_fields
	not has_key(catalog_keys, name_key(f))
}

# What a name in the request can denote in this object: the last segment of a dotted path
# (an alias "c.SSN__c" or a relationship "Account.Name"), lower-cased. Over-matching a
# relationship field is deliberate: it only ever makes the device check stricter.
name_key(n) := lower(parts[count(parts) - 1]) if parts := split(n, ".")

# A plain field path: one or more segments of [A-Za-z0-9_]+ joined by single dots, i.e.
# ^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$. Checked with string builtins rather than regex.match: the
# Wasm heap is reset after every evaluation, so a regex would be recompiled on every request.
plain_name(n) if {
	n != ""
	trim(n, path_chars) == ""
	not startswith(n, ".")
	not endswith(n, ".")
	not contains(n, "..")
}

# Most frequent first: trim looks each character up in this list.
path_chars := "abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789."

# Keys of the fields the request names; undefined, which means "all fields", when the request
# names none or names anything that is not a plain field path (FIELDS(ALL), an aggregate such
# as MAX(DateOfBirth__c), a subquery, a non-string): those cannot be checked field by field.
named_keys := {name_key(n) | some n in resource.fields} if {
	is_array(resource.fields)
	every n in resource.fields {
		is_string(n)
		plain_name(n)
	}
}

# The class's rule (data.crm.field_rules), or "remove" when the class has no rule (fail closed).
rule_for(c) := r if {
	r := data.crm.field_rules[c]
} else := {"remove": {}}

# Rules for every catalog field of the object above the subject's clearance, and for every
# field the request names that the catalog does not know when the default class is above it.
field_rules[f] := rule_for(c) if {
	clearance_rank < top_rank # no class ranks above the top: nothing to look at
	some f, c in catalog_fields
	class_rank(c) > clearance_rank
}

field_rules[f] := rule_for(default_class) if {
	default_rank > clearance_rank
	some f in extra_fields
}

# --- filtering and sorting on fields --------------------------------------------------------
#
# Removing or masking a field in the response is not enough when the request filters or sorts
# on it: whether a row comes back (WHERE SSN__c = '…') or in which order (ORDER BY SSN__c)
# reveals its value. A filter field above the subject's clearance is therefore a denial.

# A filter field the policy can look up: a plain field path (string).
filter_path(f) if {
	is_string(f)
	plain_name(f)
}

# Rank of a filter field: the highest class it can denote; the default class when the catalog
# does not know it; the highest rank when it is not a field path at all (fail closed).
#   - a plain name denotes its field in the object's catalog;
#   - a dotted path (a relationship such as Account.Name, or a child subquery's Contacts.SSN__c)
#     denotes its last segment in every catalogued object, since the adapter does not know the
#     related object.
filter_rank(f) := top_rank if {
	not filter_path(f)
} else := class_rank(c) if {
	not contains(f, ".")
	c := catalog_fields[catalog_keys[lower(f)]]
} else := default_rank if {
	not contains(f, ".")
} else := max(rs) if {
	contains(f, ".")
	k := name_key(f)
	rs := {class_rank(c) |
		some o in data.crm.catalog.objects
		c := o.fields[field_keys(o)[k]]
	}
	count(rs) > 0
} else := default_rank

# How messages name a filter field: the catalog's spelling of a plain name, else as written.
filter_label(f) := concat(".", [object_label, cf]) if {
	filter_path(f)
	not contains(f, ".")
	cf := catalog_keys[lower(f)]
	has_key(catalog_fields, cf)
} else := concat(".", [object_label, show(f)])

# Filter fields above the subject's clearance, grouped by the clearance they need.
filter_forbidden[levels[r]] contains filter_label(f) if {
	some f in filter_fields
	r := filter_rank(f)
	r > clearance_rank
}

deny contains reason("classification.filter_forbidden", msg) if {
	some level, names in filter_forbidden
	msg := concat("", ["filtering on ", concat(", ", sort(names)), " needs clearance ", level])
}

# --- device posture for restricted data -----------------------------------------------------

device_class := data.crm.device.required_from_class

device_rank := class_rank(device_class)

touched_keys := named_keys | {lower(f) | some f, _ in body}

# A field is touched when the request does not name its fields (= all fields), names it, or
# writes it. Fields the request filters or sorts on are added below (restricted_touched).
touches(_) if not named_keys

touches(f) if lower(f) in touched_keys

# Restricted fields the subject is cleared for and the request touches (for fields above the
# clearance, the "remove" obligation applies instead and no device is needed). Only needed,
# and so only computed, when the device is not managed and compliant and the subject is cleared
# for device_class (otherwise no field can be both >= device_rank and <= clearance_rank).
restricted_touched contains concat(".", [object_name, f]) if {
	some f, c in catalog_fields
	r := class_rank(c)
	r >= device_rank
	r <= clearance_rank
	touches(f)
}

restricted_touched contains concat(".", [object_name, f]) if {
	default_rank >= device_rank
	default_rank <= clearance_rank
	some f in extra_fields
	touches(f)
}

# Filter fields count as touched: filtering on a restricted field reads it.
restricted_touched contains filter_label(f) if {
	some f in filter_fields
	r := filter_rank(f)
	r >= device_rank
	r <= clearance_rank
}

restricted_list := concat(", ", sort(restricted_touched))

deny contains reason("device.unmanaged", msg) if {
	not device_managed
	device_rank <= clearance_rank
	count(restricted_touched) > 0
	msg := concat("", [device_class, " data (", restricted_list, ") needs a managed, compliant device; ", device_state])
}

device_state := "the device is unknown" if device == "unknown"

else := "the device is not managed"

deny contains reason("device.noncompliant", msg) if {
	device_managed
	not device_compliant
	device_rank <= clearance_rank
	count(restricted_touched) > 0
	msg := concat("", [device_class, " data (", restricted_list, ") needs a managed, compliant device; the device is managed but not compliant"])
}
