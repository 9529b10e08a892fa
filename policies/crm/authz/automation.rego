# Limits on what automations may write: the discount of a quote.
package crm.authz

discount_field := data.crm.limits.discount_fields[object_name]

# Limit of the calling automation, by client_id; no entry (or a non-number) means 0.
max_discount := m if {
	m := data.crm.limits.automations[subject.client_id].max_discount
	is_number(m)
} else := 0

deny contains reason("request.discount_invalid", msg) if {
	writes
	has_key(body, discount_field)
	not is_number(body[discount_field])
	msg := concat("", [object_name, ".", discount_field, " must be a number, not ", show(body[discount_field])])
}

deny contains reason("automation.discount_limit", msg) if {
	is_automation
	writes
	d := body[discount_field]
	is_number(d)
	d > max_discount
	msg := concat("", [
		"discount ", json.marshal(d), " exceeds the limit ", json.marshal(max_discount),
		" of automation ", automation_name,
	])
}
