# Shared fixtures and helpers for the policy tests (package crm.authz_test).
package crm.authz_test

import data.crm.authz

eu_rep := {
	"kind": "user",
	"id": "u-eu-rep",
	"tenant": "acme",
	"issuer": "https://idp.example.test",
	"roles": ["sales"],
	"scopes": ["crm.read", "crm.write"],
	"regions": ["EU"],
	"clearance": "internal",
}

quote_bot := {
	"kind": "automation",
	"id": "svc-quote-bot",
	"client_id": "quote-bot",
	"tenant": "acme",
	"issuer": "https://idp.example.test",
	"roles": [],
	"scopes": ["crm.read", "crm.write"],
	"regions": ["EU"],
	"clearance": "confidential",
}

good_device := {"managed": true, "compliant": true, "platform": "macos"}

env := {"now": "2026-11-25T15:00:00.000Z", "gateway_region": "EU"}

acme_eu := {"Tenant__c": "acme", "Region__c": "EU"}

# An input document as the gateway builds it.
mk(subject, device, resource) := {
	"subject": subject,
	"device": device,
	"request": {"method": "GET", "path": "/services/data/v60.0/query", "query": {}},
	"resource": object.union({"adapter": "salesforce"}, resource),
	"env": env,
}

# A subject with some keys replaced (or added).
with_subject(s, patch) := object.union(s, patch)

# A subject with some keys removed.
without(s, keys) := object.remove(s, keys)

decide(inp) := d if {
	d := authz.decision with input as inp
}

codes(d) := [r.code | some r in d.reasons]

messages(d) := [r.message | some r in d.reasons]

# The decision's deny codes, for inputs expected to be denied.
denied(inp) := codes(d) if {
	d := decide(inp)
	d.allow == false
}

allowed(inp) if decide(inp).allow == true

# The standard read of an object by a subject.
read(subject, obj, action) := mk(subject, good_device, {"object": obj, "action": action})
