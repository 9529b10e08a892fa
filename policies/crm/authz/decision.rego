# Entry point: data.crm.authz.decision, the one document the gateway reads.
#
#   {"allow": bool, "reasons": [{"code", "message"}...], "obligations": {"rows"?, "fields"?}}
#
# allow is true only when no `deny` reason holds and at least one grant applies. Reasons are
# sorted by (code, message) so that the same input always yields the same bytes.
package crm.authz

sorted_reasons(rs) := [reason(p[0], p[1]) | some p in sort([[r.code, r.message] | some r in rs])]

deny_reasons := sorted_reasons(deny) if count(deny) > 0

# Safety net, never expected: a deny with no deny reason (e.g. a rule went undefined).
else := [reason("policy.default_deny", "no rule allowed the request")]

obligations := object.union(rows_part, fields_part)

rows_part := {"rows": rows} if rows

else := {}

fields_part := {"fields": {object_name: field_rules}} if count(field_rules) > 0

else := {}

decision := {"allow": true, "reasons": sorted_reasons(grants), "obligations": o} if {
	count(deny) == 0
	count(grants) > 0
	o := obligations
} else := {"allow": false, "reasons": deny_reasons, "obligations": {}}
