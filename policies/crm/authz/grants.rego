# Who may do what: role grants for users, scope grants for automations (data.crm.grants),
# and the objects automations may never touch (data.crm.automation.forbidden).
package crm.authz

# A grant is a map object → actions; "*" stands for every catalogued object.
grant_matches(g) if action in g[object_name]

grant_matches(g) if {
	catalog_entry
	action in g["*"]
}

grants contains reason("allow.role", msg) if {
	is_user
	some role in roles
	grant_matches(data.crm.grants.roles[role])
	msg := concat("", ["role ", role, " may ", action, " ", object_name])
}

grants contains reason("allow.scope", msg) if {
	is_automation
	some scope in scopes
	grant_matches(data.crm.grants.scopes[scope])
	msg := concat("", ["scope ", scope, " lets ", subject_label, " ", action, " ", object_name])
}

deny contains reason("action.not_permitted", msg) if {
	count(grants) == 0
	msg := concat("", [subject_label, " has no role or scope that may ", action_label, " ", object_label])
}

deny contains reason("automation.object_forbidden", msg) if {
	is_automation
	action in data.crm.automation.forbidden[object_name]
	msg := concat("", ["automations may not ", action, " ", object_name, " (", subject_label, ")"])
}

deny contains reason("resource.unclassified", msg) if {
	not catalog_entry
	msg := concat("", ["object ", object_label, " is not in the classification catalog"])
}
