# Field classification: mask or remove fields above the subject's clearance, refuse filtering
# or sorting on such fields, and require a managed, compliant device when a subject cleared for
# restricted data touches it.
package crm.authz

levels := data.crm.clearance_levels

# Rank of a class in data.crm.clearance_levels. A class the catalog does not know is ranked as
# the highest (fail closed: an unknown class is treated as restricted).
class_rank(c) := i if {
	some i, level in levels
	level == c
} else := count(levels) - 1

# Rank of the subject's clearance. Absent or unknown clearance ranks lowest (public).
clearance_rank := i if {
	some i, level in levels
	level == subject.clearance
} else := 0

catalog_fields := object.get(catalog_entry, "fields", {})

# Salesforce field names are case-insensitive: compare on lower case.
catalog_lower := {lower(f) | some f, _ in catalog_fields}

# Class of every field the decision concerns: every catalog field of the object, plus fields
# the request names that the catalog does not know (those get the default class).
field_class[f] := c if {
	catalog_entry
	some f, c in catalog_fields
}

field_class[f] := data.crm.catalog.default_class if {
	catalog_entry
	some f in requested_fields
	not name_key(f) in catalog_lower
}

# What a name in the request can denote in this object: the last segment of a dotted path
# (an alias "c.SSN__c" or a relationship "Account.Name"), lower-cased. Over-matching a
# relationship field is deliberate: it only ever makes the device check stricter.
name_key(n) := lower(parts[count(parts) - 1]) if parts := split(n, ".")

plain_name(n) if regex.match(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`, n)

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

field_rules[f] := rule_for(c) if {
	some f, c in field_class
	class_rank(c) > clearance_rank
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

# Ranks a filter field can denote: a plain name in the object's catalog; a dotted path (a
# relationship such as Account.Name, or a child subquery's Contacts.SSN__c) by its last
# segment in every catalogued object, since the adapter does not know the related object.
filter_candidates(f) := {class_rank(c) | some cf, c in catalog_fields; lower(cf) == lower(f)} if {
	count(split(f, ".")) == 1
} else := {class_rank(c) |
	some o in data.crm.catalog.objects
	some cf, c in object.get(o, "fields", {})
	lower(cf) == name_key(f)
}

# Rank of a filter field: the highest it can denote; the default class when the catalog does
# not know it; the highest rank when it is not a field path at all (fail closed).
filter_rank(f) := count(levels) - 1 if {
	not filter_path(f)
} else := rs[count(rs) - 1] if {
	rs := sort(filter_candidates(f))
	count(rs) > 0
} else := class_rank(data.crm.catalog.default_class)

# How messages name a filter field: the catalog's spelling of a plain name, else as written.
filter_label(f) := concat(".", [object_label, cf]) if {
	filter_path(f)
	count(split(f, ".")) == 1
	some cf, _ in catalog_fields
	lower(cf) == lower(f)
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
# clearance, the "remove" obligation applies instead and no device is needed).
restricted_touched contains concat(".", [object_name, f]) if {
	some f, c in field_class
	class_rank(c) >= device_rank
	class_rank(c) <= clearance_rank
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
	count(restricted_touched) > 0
	not device_managed
	msg := concat("", [device_class, " data (", restricted_list, ") needs a managed, compliant device; ", device_state])
}

device_state := "the device is unknown" if device == "unknown"

else := "the device is not managed"

deny contains reason("device.noncompliant", msg) if {
	count(restricted_touched) > 0
	device_managed
	not device_compliant
	msg := concat("", [device_class, " data (", restricted_list, ") needs a managed, compliant device; the device is managed but not compliant"])
}
