package crm.authz_test

import data.crm.authz

# --- users: roles --------------------------------------------------------------------------

test_sales_may_read_and_list_every_object if {
	every obj in ["Account", "Contact", "Opportunity", "Quote"] {
		every act in ["read", "list"] {
			d := decide(read(eu_rep, obj, act))
			d.allow == true
			d.reasons == [{"code": "allow.role", "message": concat("", ["role sales may ", act, " ", obj])}]
		}
	}
}

test_sales_may_create_and_update_quote_and_opportunity if {
	every obj in ["Opportunity", "Quote"] {
		allowed(mk(eu_rep, good_device, {"object": obj, "action": "create", "body": acme_eu}))
		allowed(mk(eu_rep, good_device, {"object": obj, "action": "update", "id": "x", "current": acme_eu}))
	}
}

test_sales_may_not_write_account_or_contact if {
	every obj in ["Account", "Contact"] {
		denied(mk(eu_rep, good_device, {"object": obj, "action": "create", "body": acme_eu})) == ["action.not_permitted"]
		denied(mk(eu_rep, good_device, {"object": obj, "action": "update", "current": acme_eu})) == ["action.not_permitted"]
	}
}

test_not_permitted_message if {
	d := decide(mk(eu_rep, good_device, {"object": "Account", "action": "create", "body": acme_eu}))
	d.reasons == [{"code": "action.not_permitted", "message": "user u-eu-rep has no role or scope that may create Account"}]
}

test_nobody_but_admin_deletes if {
	every obj in ["Account", "Contact", "Opportunity", "Quote"] {
		denied(mk(eu_rep, good_device, {"object": obj, "action": "delete", "id": "x", "current": acme_eu})) == ["action.not_permitted"]
		denied(mk(with_subject(eu_rep, {"roles": ["viewer"]}), good_device, {"object": obj, "action": "delete", "current": acme_eu})) == ["action.not_permitted"]
		denied(mk(quote_bot, "unknown", {"object": obj, "action": "delete", "current": acme_eu}))[_] == "action.not_permitted"
	}
}

test_admin_may_delete if {
	admin := with_subject(eu_rep, {"roles": ["admin"]})
	d := decide(mk(admin, good_device, {"object": "Quote", "action": "delete", "id": "0Q0", "current": acme_eu}))
	d.allow == true
	d.reasons == [{"code": "allow.role", "message": "role admin may delete Quote"}]
	not d.obligations.rows
}

test_viewer_reads_but_does_not_write if {
	viewer := with_subject(eu_rep, {"roles": ["viewer"]})
	allowed(read(viewer, "Opportunity", "list"))
	allowed(read(viewer, "Contact", "read"))
	denied(mk(viewer, good_device, {"object": "Quote", "action": "create", "body": acme_eu})) == ["action.not_permitted"]
	denied(mk(viewer, good_device, {"object": "Quote", "action": "update", "current": acme_eu})) == ["action.not_permitted"]
}

test_user_scopes_grant_nothing if {
	# users are authorized by roles; their token scopes alone grant nothing
	scoped_user := with_subject(eu_rep, {"roles": []})
	denied(read(scoped_user, "Quote", "list")) == ["action.not_permitted"]
	denied(read(without(eu_rep, {"roles"}), "Quote", "list")) == ["action.not_permitted"]
}

test_unknown_role_grants_nothing if {
	denied(read(with_subject(eu_rep, {"roles": ["superuser", 7, ""]}), "Quote", "list")) == ["action.not_permitted"]
	denied(read(with_subject(eu_rep, {"roles": "sales"}), "Quote", "list")) == ["action.not_permitted"]
}

test_several_roles_give_several_sorted_allow_reasons if {
	a := decide(read(with_subject(eu_rep, {"roles": ["viewer", "sales", "admin"]}), "Quote", "list"))
	b := decide(read(with_subject(eu_rep, {"roles": ["sales", "admin", "viewer"]}), "Quote", "list"))
	a.allow == true
	a.reasons == [
		{"code": "allow.role", "message": "role admin may list Quote"},
		{"code": "allow.role", "message": "role sales may list Quote"},
		{"code": "allow.role", "message": "role viewer may list Quote"},
	]
	json.marshal(a) == json.marshal(b)
}

test_unknown_action_not_permitted if {
	admin := with_subject(eu_rep, {"roles": ["admin"]})
	denied(read(admin, "Quote", "merge")) == ["action.not_permitted"]
	denied(mk(admin, good_device, {"object": "Quote"})) == ["action.not_permitted"]
	denied(read(admin, "Quote", 3)) == ["action.not_permitted"]
}

test_unknown_subject_kind_not_permitted if {
	denied(read(with_subject(eu_rep, {"kind": "service"}), "Quote", "list")) == ["action.not_permitted"]
	d := decide(read(without(eu_rep, {"kind"}), "Quote", "list"))
	d.reasons == [{"code": "action.not_permitted", "message": "the subject has no role or scope that may list Quote"}]
}

# --- automations: scopes -------------------------------------------------------------------

test_automation_read_scope if {
	reader := with_subject(quote_bot, {"scopes": ["crm.read"]})
	d := decide(mk(reader, "unknown", {"object": "Quote", "action": "list"}))
	d.allow == true
	d.reasons == [{"code": "allow.scope", "message": "scope crm.read lets automation quote-bot list Quote"}]
	denied(mk(reader, "unknown", {"object": "Quote", "action": "create", "body": acme_eu})) == ["action.not_permitted"]
}

test_automation_write_scope if {
	writer := with_subject(quote_bot, {"scopes": ["crm.write"]})
	d := decide(mk(writer, "unknown", {"object": "Quote", "action": "create", "body": acme_eu}))
	d.allow == true
	d.reasons == [{"code": "allow.scope", "message": "scope crm.write lets automation quote-bot create Quote"}]
	allowed(mk(writer, "unknown", {"object": "Opportunity", "action": "update", "current": acme_eu}))
	denied(mk(writer, "unknown", {"object": "Quote", "action": "read"})) == ["action.not_permitted"]
}

test_automation_roles_grant_nothing if {
	bot := with_subject(quote_bot, {"roles": ["admin"], "scopes": []})
	denied(mk(bot, "unknown", {"object": "Quote", "action": "list"})) == ["action.not_permitted"]
}

test_automation_may_not_touch_contact if {
	every act in ["read", "list"] {
		d := decide(mk(quote_bot, "unknown", {"object": "Contact", "action": act}))
		d.allow == false
		d.reasons == [{
			"code": "automation.object_forbidden",
			"message": concat("", ["automations may not ", act, " Contact (automation quote-bot)"]),
		}]
	}
	denied(mk(quote_bot, "unknown", {"object": "Contact", "action": "create", "body": acme_eu})) == ["automation.object_forbidden"]
}

test_automation_forbidden_and_not_permitted_both_reported_sorted if {
	bot := with_subject(quote_bot, {"scopes": []})
	denied(mk(bot, "unknown", {"object": "Contact", "action": "list"})) == ["action.not_permitted", "automation.object_forbidden"]
}

test_forbidden_objects_are_data_driven if {
	d := authz.decision with input as mk(quote_bot, "unknown", {"object": "Contact", "action": "list"})
		with data.crm.automation.forbidden as {"Account": ["list"]}
	d.allow == true
	e := authz.decision with input as mk(quote_bot, "unknown", {"object": "Account", "action": "list"})
		with data.crm.automation.forbidden as {"Account": ["list"]}
	codes(e) == ["automation.object_forbidden"]
}

test_users_are_not_subject_to_automation_forbidden_list if {
	allowed(read(eu_rep, "Contact", "list"))
}

# --- unclassified objects ------------------------------------------------------------------

test_unclassified_object_denied if {
	d := decide(read(with_subject(eu_rep, {"roles": ["admin"]}), "Lead", "list"))
	d.allow == false
	d.reasons == [
		{"code": "action.not_permitted", "message": "user u-eu-rep has no role or scope that may list Lead"},
		{"code": "resource.unclassified", "message": "object Lead is not in the classification catalog"},
	]
	d.obligations == {}
}

test_unclassified_even_with_explicit_grant if {
	d := authz.decision with input as read(eu_rep, "Lead", "list")
		with data.crm.grants.roles.sales as {"Lead": ["list"]}
	codes(d) == ["resource.unclassified"]
}

test_object_names_are_exact if {
	"resource.unclassified" in denied(read(eu_rep, "contact", "list"))
	"resource.unclassified" in denied(mk(eu_rep, good_device, {"action": "list"}))
	d := decide(read(eu_rep, ["Contact"], "list"))
	"resource.unclassified" in codes(d)
	"object [\"Contact\"] is not in the classification catalog" in messages(d)
}
