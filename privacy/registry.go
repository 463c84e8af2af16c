package privacy

// The declarations. Deletion says what the code does today; "(in progress)" marks what issue 4
// still has to build. After a change here, run go test ./privacy -update to rewrite
// docs/privacy-registry.md.

const (
	unbound     = "the watch unbound (Store.Unbind deletes every row of the watch)"
	expiredKept = "expired rows are deleted by the retention job's next run (Store.DeleteExpired)"
	cancelled   = "account cancellation (Store.CancelAccount)"
	shortened   = ", or the shorter period the family chose"
)

// Tables declares every table of the schema, in the order the migrations create them.
var Tables = []Table{
	{
		Name: "devices", Owner: OwnerChild, OwnerColumn: "id",
		Classes: []Class{ClassDevice, ClassConsent}, Personal: true,
		Export: "each of the family's watches: id, state, when bound, first and last seen, battery, signal, steps, " +
			"firmware, SIM (ICCID), the child's current consent",
		Deletion: "the watch unbound: family, bound time, consent, battery, signal, steps and ICCID are cleared; " +
			"the registry entry (id, manufacturer, firmware, first and last seen, online) stays as a pending watch, " +
			"which is never deleted",
		Retention: []Retention{RetentionWhileBound},
	},
	{
		Name: "positions", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassLocation, ClassDevice}, Personal: true, Sealed: []string{"sealed"},
		Export: "every position: time, coordinates, altitude, accuracy, Wi-Fi and cells heard (opened with the " +
			"family's key), speed, course, satellites, signal, battery, steps, status, alarms",
		Deletion: unbound + "; the retention job, after location_history" + shortened + "; shredding the family's " +
			"keys makes the sealed part unreadable in every copy made afterwards, and in older backups once their master key is retired",
		Retention: []Retention{RetentionLocation},
	},
	{
		Name: "events", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassDevice}, Personal: true,
		Export:    "every event: time, type, alarm (SOS, fall …), detail",
		Deletion:  unbound + "; the retention job, after events" + shortened,
		Retention: []Retention{RetentionEvents},
	},
	{
		Name: "health_readings", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassHealth}, Personal: true,
		Export:    "every reading: time, heart rate, blood pressure, SpO₂, temperature",
		Deletion:  unbound + "; the retention job, after health" + shortened,
		Retention: []Retention{RetentionHealth},
	},
	{
		Name: "commands", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassDevice, ClassContacts}, Personal: true, Sealed: []string{"content"},
		Export: "every command: what was asked (with the phone numbers and phone-book names it carried), " +
			"by which account, its state and the watch's answer",
		Deletion: unbound + "; the retention job, commands after they finished (acknowledged, failed or expired)" +
			shortened + "; " + cancelled + " deletes the commands the account sent, in every family",
		Retention: []Retention{RetentionCommands},
	},
	{
		Name: "media", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassVoice, ClassPhoto}, Personal: true,
		Export: "every voice message and photo: time, kind, type, with its content (the blobs below)",
		Deletion: unbound + ", then their content; the retention job, voice messages after voice and photos after " +
			"photos" + shortened + ", then their content",
		Retention: []Retention{RetentionVoice, RetentionPhotos},
	},
	{
		Name: "accounts", Owner: OwnerAccount, OwnerColumn: "id",
		Classes: []Class{ClassIdentity, ClassProfile, ClassCredentials, ClassSecurityLog, ClassConsent}, Personal: true,
		Export: "the account: email, phone, nickname, gender, birthday, region, bio, preferences, " +
			"policy accepted, current consent, created and updated; not the password hash",
		Deletion: cancelled + ": the row with its sessions, tokens, identities, memberships, join requests, bind " +
			"challenges and the invitations it created (ON DELETE CASCADE), its own consent entries and commands, its " +
			"picture, and its keys (shredded); families it shares go on with a new admin, families nobody else is in " +
			"are deleted with their children's data",
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "sessions", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassSecurityLog, ClassCredentials}, Personal: true,
		Export: "each session: kind, user agent, IP address, created, last used, expiry; not the token hash",
		Deletion: "sign-out and revocation, a password change (the other sessions) or reset (all), the account " +
			"deleted (cascade); the retention job, after login_records from the last use; a session expires 30 days " +
			"after sign-in, and " + expiredKept,
		Retention: []Retention{RetentionLoginRecords},
	},
	{
		Name: "tokens", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassCredentials, ClassIdentity}, Personal: true,
		Export: "nothing: hashes of single-use secrets mailed to the account, valid one to 48 hours " +
			"(the new address of an email change, in data, is the account's own input)",
		Deletion:  "used, a newer one of the same purpose sent, the account deleted (cascade); " + expiredKept,
		Retention: []Retention{RetentionUntilExpiry},
	},
	{
		Name: "identities", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassIdentity}, Personal: true,
		Export:    "each linked provider: provider, subject, the email address it reported, when linked",
		Deletion:  "unlinking, a password reset (every link), the account deleted (cascade)",
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "families", Owner: OwnerFamily, OwnerColumn: "id",
		Classes: []Class{ClassProfile}, Personal: true,
		Export: "the family: name, created, the retention it chose",
		Deletion: cancelled + " of its last member deletes it with its watches' data and shreds its keys; a family " +
			"whose last watch is unbound stays with its members",
		Retention: []Retention{RetentionFamily},
	},
	{
		Name: "members", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassProfile}, Personal: true,
		Export: "the account's memberships: family, role, relation to the child, joined (a family's export lists " +
			"its members)",
		Deletion:  "leaving or removal from the family, the account deleted (cascade)",
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "invitations", Owner: OwnerFamily, OwnerColumn: "family_id",
		Classes: []Class{ClassCredentials}, Personal: true,
		Export: "the family's open invitations: role, created by, created, expiry, uses left; not the code hash",
		Deletion: "its last use taken, an admin revoking it, its creator's account or its family deleted (cascade); " +
			"expired invitations stay until their family goes",
		Retention: []Retention{RetentionUntilExpiry},
	},
	{
		Name: "join_requests", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassProfile}, Personal: true,
		Export: "the account's requests: family, watch, note to the admin, created",
		Deletion: "accepted or declined by the admin, the watch it names unbound, the requester's account deleted " +
			"(cascade); an unanswered request does not expire",
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "bind_challenges", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassCredentials}, Personal: true,
		Export: "nothing: the hash of a 6-digit code shown on the watch, valid 10 minutes",
		Deletion: "used, used up by wrong codes, or found expired when tried; the watch unbound; the account " +
			"deleted (cascade); " + expiredKept,
		Retention: []Retention{RetentionUntilExpiry},
	},
	{
		Name: "child_profiles", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassIdentity, ClassProfile, ClassHealth}, Personal: true, Sealed: []string{"sealed"},
		Export: "the child's profile: name, birthday, gender, height, weight, school, grade, the watch's phone " +
			"number, and its picture",
		Deletion:  "the watch unbound (the row and its picture)",
		Retention: []Retention{RetentionWhileBound},
	},
	{
		// account_id is the subject of an account's own entries (device_id NULL); on a child's
		// entries device_id names the child and account_id the guardian who acted.
		Name: "consents", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassConsent}, Personal: true,
		Export: "the account's own ledger, and for a family each child's ledger (device_id): purpose, given or " +
			"withdrawn, policy version, method, statement, time, who acted",
		Deletion: "an account's own entries with the account (" + cancelled + "); a child's entries with the " +
			"watch unbound; on a child's entries the acting guardian's account_id is cleared when that account is " +
			"deleted, and the family keeps the entry",
		Retention: []Retention{RetentionAccount, RetentionWhileBound},
	},
	{
		Name: "data_keys", Owner: OwnerFamily, OwnerColumn: "owner",
		Classes: []Class{ClassKeys}, Personal: true,
		Export: "nothing: wrapped keys open nothing outside this server; an export holds the data they seal, opened",
		Deletion: "Store.ShredKeys deletes an owner's keys (owner \"family:<id>\", or \"account:<id>\" for an " +
			"account's picture), which makes everything sealed with them unreadable in every copy made afterwards (older backups: once " +
			"their master key is retired); " + cancelled +
			" shreds the account's keys and those of the families it leaves empty",
		Retention: []Retention{RetentionFamily, RetentionAccount},
	},
	{
		Name: "access_log", Owner: OwnerFamily, OwnerColumn: "family_id",
		Classes: []Class{ClassSecurityLog}, Personal: true,
		Export:    "each family's log: who read what of which watch, when, and staff's reason",
		Deletion:  "the family deleted (cascade); the retention job, after access_log; a cancelled account's reads stay without its id",
		Retention: []Retention{RetentionAccessLog},
	},
	{
		Name: "export_jobs", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassSecurityLog}, Personal: true,
		Export: "nothing: the exports themselves (state and times are shown by GET /me/exports)",
		Deletion: "the account cancelled (cascade, and the ZIP it points to); a ready export's ZIP is deleted when " +
			"downloaded or 7 days after it was made, the row stays as the record of the request",
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "notices", Owner: OwnerNone,
		Why: "the operator's announcements (a security incident, a new policy version, ceasing operations): one text for " +
			"many readers, written without personal data (kinwatch admin says so), and created_by names the operator's " +
			"side; who received each notice is notice_recipients",
	},
	{
		// The record of who was told what, and when they were mailed and read it.
		Name: "notice_recipients", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassSecurityLog}, Personal: true,
		Export: "the notices addressed to the account, when they were mailed and read (account/notices.json)",
		Deletion: "the account deleted (cascade): " + cancelled + ", and kinwatch admin cease-operations --execute, which " +
			"cancels every account after the notice period",
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "fences", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassLocation}, Personal: true, Sealed: []string{"sealed"},
		Export:    "each safe zone's definition (name, shape, schedules), opened (safe-zones.json)",
		Deletion:  unbound + "; deleted by the family; " + cancelled + " through the watch's unbinding",
		Retention: []Retention{RetentionWhileBound},
	},
	{
		Name: "track_days", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassLocation}, Personal: true, Sealed: []string{"sealed"},
		Export:    "nothing separately: a cache of the positions, which positions.json holds",
		Deletion:  "a day's row whenever a position of that day is changed or deleted (database triggers) or stored late (WriteBatch), so with the positions by every path: " + unbound + ", deleted by the family, the retention job, " + cancelled + "; a row a change could not see (a writer's older snapshot) is out of use at once and deleted by the nightly prune (PruneTrackDays)",
		Retention: []Retention{RetentionLocation},
	},
	{
		Name: "track_day_gen", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassLocation}, Personal: true,
		Export:    "nothing: a random number per day of the watch whose history was read or changed (the days themselves show in positions.json)",
		Deletion:  "with the last position of its day, whatever deletes it (database triggers): deleted by the family, the retention job, " + unbound + ", " + cancelled,
		Retention: []Retention{RetentionLocation},
	},
	{
		Name: "notification_prefs", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassProfile}, Personal: true,
		Export:    "the guardian's choices: channels per alarm kind, quiet hours (account/notifications.json)",
		Deletion:  "the account deleted (cascade), " + cancelled,
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "push_subscriptions", Owner: OwnerAccount, OwnerColumn: "account_id",
		Classes: []Class{ClassDevice, ClassCredentials}, Personal: true, Sealed: []string{"sealed"},
		Export:    "each subscribed browser: its push service address and label, not its keys (account/notifications.json)",
		Deletion:  "unsubscribing, the push service saying it expired (404/410), the account deleted (cascade), " + cancelled,
		Retention: []Retention{RetentionAccount},
	},
	{
		Name: "webhooks", Owner: OwnerFamily, OwnerColumn: "family_id",
		Classes: []Class{ClassCredentials}, Personal: true, Sealed: []string{"sealed"},
		Export:    "to the family's admin: each webhook's name, address and format, not its secret (families/<id>/webhooks.json)",
		Deletion:  "the admin removing it, the family deleted (cascade)",
		Retention: []Retention{RetentionFamily},
	},
	{
		Name: "deliveries", Owner: OwnerChild, OwnerColumn: "device_id",
		Classes: []Class{ClassDevice}, Personal: true,
		Export:    "nothing separately: the alarms are in events.json; who was told and how is shown by the API (GET /watches/{watch}/events/{event}/deliveries)",
		Deletion:  "with their alarm (cascade from events: " + unbound + ", deleted by the family, the retention job after events" + shortened + "); a recipient's account deleted (cascade)",
		Retention: []Retention{RetentionEvents},
	},
	{
		Name: "delivery_attempts", Owner: OwnerChild, OwnerColumn: "delivery_id",
		Classes: []Class{ClassDevice}, Personal: true,
		Export:    "nothing separately: shown with their delivery by the API",
		Deletion:  "with their delivery (cascade)",
		Retention: []Retention{RetentionEvents},
	},
	{
		Name: "cell_towers", Owner: OwnerNone,
		Why: "where mobile network cells are (imported from OpenCellID or learned from the fleet's GPS fixes): " +
			"no watch, child or account is recorded with them",
	},
	{
		Name: "wifi_aps", Owner: OwnerNone,
		Why: "where Wi-Fi access points are, learned from the fleet's GPS fixes as a running mean: which watch or " +
			"child heard them is never recorded; randomised (locally administered) addresses are not learned",
	},
	{
		Name: "schema_migrations", Owner: OwnerNone,
		Why: "the schema versions applied and when; created by Migrate, not by a migration",
	},
}

// Blobs declares every class of content in the blob store (fileblob, under DATA_DIR/media).
var Blobs = []Blob{
	{
		Prefix: "<device id>/audio/", Owner: OwnerChild, Classes: []Class{ClassVoice}, Sealed: true,
		Export: "the voice messages (AMR)",
		Deletion: "with their media rows (the watch unbound, the retention job); the content of a record the " +
			"store does not keep (no consent, another family) is deleted by the storage writer",
		Retention: RetentionVoice,
	},
	{
		Prefix: "<device id>/image/", Owner: OwnerChild, Classes: []Class{ClassPhoto}, Sealed: true,
		Export: "the photos (JPEG)",
		Deletion: "with their media rows (the watch unbound, the retention job); the content of a record the " +
			"store does not keep (no consent, another family) is deleted by the storage writer",
		Retention: RetentionPhotos,
	},
	{
		Prefix: "avatars/<account id>/", Owner: OwnerAccount, Classes: []Class{ClassPhoto, ClassProfile}, Sealed: true,
		Export:    "the account's profile picture",
		Deletion:  "replaced or removed; " + cancelled + " (and the account's key is shredded)",
		Retention: RetentionAccount,
	},
	{
		Prefix: "exports/<account id>/", Owner: OwnerAccount, Classes: []Class{ClassIdentity, ClassProfile, ClassLocation, ClassHealth, ClassVoice, ClassPhoto, ClassContacts, ClassConsent}, Sealed: true,
		Export:    "it is an export: a ZIP of everything kept about the account and its families' children",
		Deletion:  "downloaded once, or 7 days after it was made, or the account cancelled",
		Retention: RetentionUntilExpiry,
	},
	{
		Prefix: "children/<device id>/", Owner: OwnerChild, Classes: []Class{ClassPhoto, ClassProfile}, Sealed: true,
		Export:    "the child's profile picture",
		Deletion:  "replaced or removed; the watch unbound",
		Retention: RetentionWhileBound,
	},
}
