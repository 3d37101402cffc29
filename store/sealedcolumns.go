package store

import (
	"strconv"
)

// sealedColumn is a column whose values the Sealer seals, with what it takes
// to open them: the row's identity, and the associated data the writer bound
// the value to. A value sealed under one AAD never opens under another, so the
// aad functions here call the writers' own functions wherever they exist.
type sealedColumn struct {
	table  string
	key    string // the primary key: unique and ordered, the rotation's cursor
	column string
	aad    func(key string) string
	// damaged says how to clear a value that its own key no longer opens.
	damaged string
}

// sealedColumns is every sealed column in the schema, in one place. Key
// rotation walks it; TestSealedColumnsCoverEveryBlobColumn fails when a
// migration adds a BLOB column that is missing here. A new sealed column is
// a new row of this table, with the AAD its writer uses.
var sealedColumns = []sealedColumn{
	{
		table: "integrations", key: "id", column: "client_secret",
		aad: func(k string) string {
			id, _ := strconv.ParseInt(k, 10, 64) // an INTEGER PRIMARY KEY always parses
			return secretAAD(id)
		},
		damaged: "enter the integration's client secret again",
	},
	{
		table: "accounts", key: "id", column: "credentials", aad: credentialsAAD,
		damaged: "replace the account's credentials",
	},
	{
		table: "tokens", key: "account_id", column: "access_token", aad: accessAAD,
		damaged: "disconnect and reconnect the account",
	},
	{
		table: "tokens", key: "account_id", column: "refresh_token", aad: refreshAAD,
		damaged: "disconnect and reconnect the account",
	},
	{
		table: "oauth_flows", key: "state_hash", column: "verifier", aad: verifierAAD,
		damaged: "delete the pending sign-in from oauth_flows (it is useless after 10 minutes anyway)",
	},
	{
		table: "oidc_flows", key: "state_hash", column: "verifier", aad: oidcVerifierAAD,
		damaged: "delete the pending single sign-on from oidc_flows (it is useless after 10 minutes anyway)",
	},
	{
		// The webhook's signing secret: one row (id 1), so its AAD is a constant.
		table: "webhook_config", key: "id", column: "secret",
		aad:     func(string) string { return webhookSecretAAD },
		damaged: "set the webhook's signing secret again",
	},
	{
		// The webhook URL (its query or path often holds a token): one row too.
		table: "webhook_config", key: "id", column: "url_sealed",
		aad:     func(string) string { return webhookURLAAD },
		damaged: "set the webhook URL again in Settings",
	},
}

// name is table.column, as errors and progress name a column.
func (c sealedColumn) name() string { return c.table + "." + c.column }
