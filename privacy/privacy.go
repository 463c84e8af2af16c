// Package privacy is the registry of personal data: every database table and every class of blob
// kinwatch keeps is declared here once, with whose data it is, what kind of data, what an export
// takes from it, how and when its rows are deleted or anonymised, and how long they are kept.
// Tables without personal data are declared too, with the reason. A test fails when a migration
// creates a table the registry does not declare, and docs/privacy-registry.md is rendered from it.
//
// The registry describes what the code does today: where a deletion is still to be built it says
// "(in progress)" rather than promise it. Features that store personal data (chat, photos, the
// community) add their tables and blobs here and get export, deletion and retention from it.
//
// It must not read, export or delete data itself, and imports no store: the stores, the export
// and the retention job use it.
package privacy

import (
	"slices"
	"time"

	"kinwatch"
)

// Owner is whose personal data a table or blob holds: the subject an export is for and whose
// deletion removes it.
type Owner string

const (
	OwnerAccount Owner = "account" // a guardian's (or operator's) account
	OwnerFamily  Owner = "family"  // a family as a whole
	// OwnerChild is the wearer of a bound watch, identified by the watch's device id. Children
	// have no accounts: their family holds and answers for their data, and what of it is sealed
	// is sealed with the family's key.
	OwnerChild Owner = "child"
	OwnerNone  Owner = "none" // no personal data
)

// Class is a kind of personal data.
type Class string

const (
	ClassIdentity    Class = "identity"
	ClassProfile     Class = "profile"
	ClassCredentials Class = "credentials"
	ClassSecurityLog Class = "security_log"
	ClassLocation    Class = "location"
	ClassHealth      Class = "health"
	ClassVoice       Class = "voice"
	ClassPhoto       Class = "photo"
	ClassContacts    Class = "contacts"
	ClassConsent     Class = "consent"
	ClassDevice      Class = "device"
	ClassKeys        Class = "keys"
)

var classMeanings = []struct {
	class   Class
	meaning string
}{
	{ClassIdentity, "who someone is: name, email address, phone number, external account"},
	{ClassProfile, "what someone tells others about themselves: picture, birthday, gender, bio, relation"},
	{ClassCredentials, "secrets that let someone in: password hash, hashes of tokens and codes"},
	{ClassSecurityLog, "how and from where someone signed in: IP address, user agent, failed sign-ins"},
	{ClassLocation, "where a child was: coordinates, Wi-Fi access points and cells heard"},
	{ClassHealth, "heart rate, blood pressure, SpO₂, temperature, height and weight"},
	{ClassVoice, "voice recordings"},
	{ClassPhoto, "pictures"},
	{ClassContacts, "other people's names and phone numbers"},
	{ClassConsent, "what was consented to, when, how and by whom"},
	{ClassDevice, "what a child's watch reported or was told: battery, signal, steps, SIM, alarms, settings"},
	{ClassKeys, "the data keys that seal an owner's data"},
}

// Meaning describes the class; "" for a class the registry does not know.
func (c Class) Meaning() string {
	for _, m := range classMeanings {
		if m.class == c {
			return m.meaning
		}
	}
	return ""
}

// Retention names how long data is kept at most, unless something deletes it earlier. The classes
// with a duration are kinwatch's (kinwatch.RetentionClasses): the retention job deletes what is
// older, after the operator's period (--retention, over kinwatch.DefaultRetention) or a shorter one
// a family chose. The others have no duration: their data is kept as long as what it belongs to.
type Retention string

const (
	RetentionLocation     = Retention(kinwatch.RetainLocation)
	RetentionHealth       = Retention(kinwatch.RetainHealth)
	RetentionVoice        = Retention(kinwatch.RetainVoice)
	RetentionPhotos       = Retention(kinwatch.RetainPhotos)
	RetentionEvents       = Retention(kinwatch.RetainEvents)
	RetentionCommands     = Retention(kinwatch.RetainCommands)
	RetentionLoginRecords = Retention(kinwatch.RetainLoginRecords)
	RetentionAccessLog    = Retention(kinwatch.RetainAccessLog)

	RetentionWhileBound  Retention = "while_bound"      // kept while the watch is bound to its family
	RetentionFamily      Retention = "family_lifetime"  // kept while the family exists
	RetentionAccount     Retention = "account_lifetime" // kept while the account exists
	RetentionUntilExpiry Retention = "until_expiry"     // short-lived secrets: gone when used or expired
)

// RetentionClass describes a retention class.
type RetentionClass struct {
	Name    Retention
	Meaning string
}

// Retentions are the retention classes: kinwatch's, with a duration, then the lifetime classes.
var Retentions = []RetentionClass{
	{RetentionLocation, "a child's positions"},
	{RetentionHealth, "a child's health readings"},
	{RetentionVoice, "voice messages from the watch, the row and its content"},
	{RetentionPhotos, "photos from the watch, the row and its content"},
	{RetentionEvents, "a watch's alarms, connections and command changes"},
	{RetentionCommands, "finished commands, counted from when they finished"},
	{RetentionLoginRecords, "sessions (user agent, IP address), counted from their last use"},
	{RetentionAccessLog, "who read a child's sensitive data"},
	{RetentionWhileBound, "kept while the watch is bound to its family"},
	{RetentionFamily, "kept while the family exists"},
	{RetentionAccount, "kept while the account exists"},
	{RetentionUntilExpiry, "short-lived secrets, kept until used or expired"},
}

// DefaultRetention returns the default period of r (kinwatch.DefaultRetention); false for a
// lifetime or expiry class and for a class the registry does not know.
func DefaultRetention(r Retention) (time.Duration, bool) {
	d, ok := kinwatch.DefaultRetention()[kinwatch.RetentionClass(r)]
	return d, ok && d > 0
}

// Table declares one database table, the same in SQLite and PostgreSQL.
type Table struct {
	Name        string
	Owner       Owner
	OwnerColumn string // the column naming the owner ("" when Owner is OwnerNone)
	Classes     []Class
	Personal    bool
	Sealed      []string // columns sealed with the owner's key (package envelope)
	Export      string   // what a data export takes from it, or why nothing
	Deletion    string   // when and how rows are deleted or anonymised today
	// Retention is how long its rows are kept: one class, or several when its rows are kept
	// differently (media: voice and photos; consents: an account's own and a child's).
	Retention []Retention
	Why       string // for a table without personal data: why it holds none
}

// Blob declares one class of content kept in the blob store, by the start of its keys.
type Blob struct {
	Prefix    string // e.g. "avatars/<account id>/"
	Owner     Owner
	Classes   []Class
	Sealed    bool // sealed with the owner's key (kinwatch.PutSealed)
	Export    string
	Deletion  string
	Retention Retention
}

// Lookup returns the declaration of the named table.
func Lookup(name string) (Table, bool) {
	i := slices.IndexFunc(Tables, func(t Table) bool { return t.Name == name })
	if i < 0 {
		return Table{}, false
	}
	return Tables[i], true
}
