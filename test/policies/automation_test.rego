package crm.authz_test

import data.crm.authz

quote_write(subject, action, discount) := mk(subject, "unknown", {
	"object": "Quote",
	"action": action,
	"body": object.union(acme_eu, {"Discount": discount}),
	"current": acme_eu,
})

test_automation_discount_within_limit if {
	every n in [0, 15, 20, 19.99] {
		allowed(quote_write(quote_bot, "create", n))
		allowed(quote_write(quote_bot, "update", n))
	}
}

test_automation_discount_over_limit if {
	d := decide(quote_write(quote_bot, "create", 35))
	d.allow == false
	d.reasons == [{"code": "automation.discount_limit", "message": "discount 35 exceeds the limit 20 of automation quote-bot"}]
	d.obligations == {}
	denied(quote_write(quote_bot, "update", 21)) == ["automation.discount_limit"]
}

test_automation_fractional_discount_over_limit if {
	d := decide(quote_write(quote_bot, "create", 20.5))
	d.reasons == [{"code": "automation.discount_limit", "message": "discount 20.5 exceeds the limit 20 of automation quote-bot"}]
}

test_automation_without_limit_entry_has_zero if {
	other := with_subject(quote_bot, {"client_id": "renewal-bot"})
	allowed(quote_write(other, "create", 0))
	d := decide(quote_write(other, "create", 1))
	d.reasons == [{"code": "automation.discount_limit", "message": "discount 1 exceeds the limit 0 of automation renewal-bot"}]
}

test_automation_without_client_id_has_zero if {
	anon := without(quote_bot, {"client_id"})
	d := decide(quote_write(anon, "create", 5))
	d.reasons == [{"code": "automation.discount_limit", "message": "discount 5 exceeds the limit 0 of automation svc-quote-bot"}]
}

test_limit_lookup_is_by_client_id_not_id if {
	impostor := with_subject(quote_bot, {"id": "quote-bot", "client_id": "other"})
	denied(quote_write(impostor, "create", 10)) == ["automation.discount_limit"]
}

test_non_number_limit_is_zero if {
	d := authz.decision with input as quote_write(quote_bot, "create", 10)
		with data.crm.limits.automations as {"quote-bot": {"max_discount": "50"}}
	d.reasons == [{"code": "automation.discount_limit", "message": "discount 10 exceeds the limit 0 of automation quote-bot"}]
}

test_limits_are_data if {
	d := authz.decision with input as quote_write(quote_bot, "create", 35)
		with data.crm.limits.automations as {"quote-bot": {"max_discount": 40}}
	d.allow == true
}

test_non_number_discount_invalid if {
	d := decide(quote_write(quote_bot, "create", "35"))
	d.reasons == [{"code": "request.discount_invalid", "message": "Quote.Discount must be a number, not 35"}]
	every v in [null, true, [35], {"v": 35}, "abc"] {
		denied(quote_write(quote_bot, "update", v)) == ["request.discount_invalid"]
	}
	denied(quote_write(eu_rep, "create", "15%")) == ["request.discount_invalid"]
}

test_null_discount_message if {
	decide(quote_write(quote_bot, "create", null)).reasons[0].message == "Quote.Discount must be a number, not null"
}

test_users_have_no_discount_limit_in_v0 if {
	allowed(quote_write(eu_rep, "create", 35))
	allowed(quote_write(eu_rep, "update", 90))
}

test_write_without_discount_is_fine if {
	allowed(mk(quote_bot, "unknown", {"object": "Quote", "action": "create", "body": acme_eu}))
}

test_discount_only_checked_on_objects_with_a_discount_field if {
	# Opportunity has no discount field in data.crm.limits.discount_fields
	allowed(mk(quote_bot, "unknown", {"object": "Opportunity", "action": "create", "body": object.union(acme_eu, {"Discount": 99})}))
}

test_discount_limit_and_other_reasons_sorted if {
	inp := mk(quote_bot, "unknown", {"object": "Quote", "action": "create", "body": {"Tenant__c": "globex", "Region__c": "US", "Discount": 50}})
	denied(inp) == ["automation.discount_limit", "region.not_entitled", "tenant.mismatch"]
}

test_automation_without_any_name if {
	anon := without(quote_bot, {"client_id", "id"})
	d := decide(quote_write(anon, "create", 5))
	d.reasons == [{"code": "automation.discount_limit", "message": "discount 5 exceeds the limit 0 of automation (unnamed)"}]
}
