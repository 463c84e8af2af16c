package kinwatch

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Alarms the server raises itself, beyond the watch's own (Alarms.Names).
const (
	AlarmFenceEnter      = "fence_enter"      // the watch entered one of its safe zones; Subject is the fence
	AlarmFenceExit       = "fence_exit"       // the watch left one; Subject is the fence
	AlarmOffline         = "offline"          // nothing heard from the watch for longer than configured
	AlarmBatteryCritical = "battery_critical" // the battery fell to the critical level
	AlarmGeneral         = "general"          // an alarm frame without an alarm bit
)

// AlarmKinds lists every alarm's API name: what notification preferences may name.
func AlarmKinds() []string {
	return append(slices.Clone(alarmNames[:]), AlarmGeneral, AlarmFenceEnter, AlarmFenceExit, AlarmOffline, AlarmBatteryCritical)
}

// Notification channels. The live stream (in-app) carries every event as it is stored and is not
// a channel here: these are the ones that reach a guardian outside the app and need a durable,
// recorded delivery.
type Channel string

const (
	ChannelPush    Channel = "push"    // Web Push to a browser (the PWA) that subscribed
	ChannelEmail   Channel = "email"   // to the guardian's verified email address
	ChannelWebhook Channel = "webhook" // to a URL the family configured (ntfy, Home Assistant, …)
)

// Delivery states.
type DeliveryStatus string

const (
	DeliveryPending    DeliveryStatus = "pending"    // not yet delivered; NextAttempt says when
	DeliveryDelivered  DeliveryStatus = "delivered"  // the receiver accepted it
	DeliveryFailed     DeliveryStatus = "failed"     // given up: Reason says why
	DeliverySuppressed DeliveryStatus = "suppressed" // not sent on purpose: Reason says why (quiet hours)
)

// Delivery is one alarm on its way to one receiver over one channel. Its id is sent with it
// (the webhook's Kinwatch-Delivery header, the push message's Topic and tag), so a receiver can
// drop the rare repeat of a send whose acknowledgement was lost in a crash.
type Delivery struct {
	ID        string
	EventID   string
	DeviceID  string
	FamilyID  string
	AccountID string // the guardian it is for; "" for a webhook (the family's)
	Channel   Channel
	// Target is what it goes to: the push subscription's or the webhook's id, the account's id
	// for email. An alarm goes to a target at most once.
	Target      string
	Alarm       string
	Status      DeliveryStatus
	Reason      string // why suppressed or failed, or the last attempt's error while pending
	Attempts    int
	NextAttempt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Lease is the claim ClaimDeliveries gave (the end of its lease): RecordAttempt records the
	// attempt only while the delivery is still so claimed, so a process that lost its claim
	// (paused past the lease) cannot undo what the process that took it over recorded.
	Lease time.Time
}

// DeliveryAttempt is one try at a delivery, kept so a family can see what happened to an alarm.
// Error never holds the receiver's address (a webhook URL can carry a token).
type DeliveryAttempt struct {
	DeliveryID string
	N          int // 1 for the first attempt
	At         time.Time
	OK         bool
	Status     int // the receiver's HTTP or SMTP status, 0 if none
	Error      string
	Duration   time.Duration
}

// PendingAlarm is a stored alarm whose deliveries are not planned yet.
type PendingAlarm struct {
	Event    *Event
	FamilyID string // "" when the watch was unbound meanwhile
}

// PushSubscription is a browser's Web Push subscription (PushSubscription.toJSON()): where to
// post and the keys to encrypt for. Sealed with the account's key.
type PushSubscription struct {
	ID        string
	AccountID string
	Endpoint  string
	P256dh    string // base64url, the browser's P-256 public key
	Auth      string // base64url, the 16-byte authentication secret
	UserAgent string // what the guardian sees in the list, e.g. "Firefox on Android"
	CreatedAt time.Time
}

// Webhook is an address a family's alarms are posted to, signed with Secret. Sealed with the
// family's key: its URL often carries a token (a Telegram bot's, an ntfy topic).
type Webhook struct {
	ID       string
	FamilyID string
	Name     string
	URL      string
	Secret   string
	// Format is how the alarm is posted: WebhookJSON (default) or WebhookText, a plain-text
	// body with a Title header, which ntfy shows as is.
	Format    string
	CreatedBy string
	CreatedAt time.Time
}

// Webhook formats.
const (
	WebhookJSON = "json"
	WebhookText = "text"
)

// Bounds on what an account or a family may configure: each is worked through on every alarm.
const (
	MaxPushSubscriptions = 20
	MaxWebhooks          = 10
)

// NotificationPrefs are one guardian's choices: which alarms reach them over which channel,
// and when to stay quiet. SOS ignores quiet hours and cannot be blocked.
type NotificationPrefs struct {
	// Channels maps an alarm kind to the channels it goes out on. A kind that is missing takes
	// DefaultChannels; an empty list blocks the kind (what the "X" on a notification does).
	Channels   map[string][]Channel `json:"channels,omitempty"`
	QuietHours *QuietHours          `json:"quiet_hours,omitempty"`
}

// QuietHours is a daily window of wall-clock time in TimeZone ("22:00" to "07:00" spans
// midnight) in which only SOS is sent.
type QuietHours struct {
	From     string `json:"from"`
	To       string `json:"to"`
	TimeZone string `json:"time_zone"`
}

// DefaultChannels are where an alarm kind goes when the guardian has not chosen: every alarm to
// their browsers, and the ones that may need someone to act at once by email too.
func DefaultChannels(kind string) []Channel {
	switch kind {
	case "sos", "fall", AlarmFenceExit:
		return []Channel{ChannelPush, ChannelEmail}
	}
	return []Channel{ChannelPush}
}

// ChannelsFor returns the channels kind goes out on under p.
func (p *NotificationPrefs) ChannelsFor(kind string) []Channel {
	if p != nil {
		if cs, ok := p.Channels[kind]; ok {
			if kind == "sos" && len(cs) == 0 {
				return DefaultChannels(kind)
			}
			return cs
		}
	}
	return DefaultChannels(kind)
}

// NotificationStore keeps what notifying needs: the alarms waiting to be planned, their
// deliveries and attempts, the browsers' subscriptions, the families' webhooks and the
// guardians' preferences.
type NotificationStore interface {
	// PendingAlarms lists stored alarms whose deliveries are not planned yet, oldest first.
	// WriteBatch marks every alarm it stores as pending.
	PendingAlarms(ctx context.Context, limit int) ([]*PendingAlarm, error)
	// PlanDeliveries stores ds (all of eventID's; none is fine) and marks the alarm planned, in
	// one transaction. An alarm planned already (by another process) is left as it is, so
	// planning twice delivers once; and a target never has two deliveries of one alarm.
	PlanDeliveries(ctx context.Context, eventID string, ds []*Delivery) error
	// ClaimDeliveries returns up to limit pending deliveries due at now, oldest first, and moves
	// their next attempt to now+lease: a process that dies while sending leaves them to be
	// retried after the lease, and two processes never claim the same one.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Delivery, error)
	// RecordAttempt stores a and d's new state (Status, Reason, Attempts, NextAttempt,
	// UpdatedAt) together, if d is still pending under the claim d.Lease (a zero Lease: as it
	// is); ECONFLICT, recording nothing, when the claim was lost. An attempt's number is never
	// recorded twice.
	RecordAttempt(ctx context.Context, d *Delivery, a *DeliveryAttempt) error
	// EventDeliveries lists an alarm's deliveries, oldest first, each with its attempts.
	EventDeliveries(ctx context.Context, deviceID, eventID string) ([]*Delivery, map[string][]*DeliveryAttempt, error)
	// Delivery returns one (ENOTFOUND if missing).
	Delivery(ctx context.Context, id string) (*Delivery, error)

	// AddPushSubscription stores s, replacing the account's subscription with the same endpoint
	// (s.ID then becomes that one's). ECONFLICT beyond MaxPushSubscriptions.
	AddPushSubscription(ctx context.Context, s *PushSubscription) error
	// PushSubscriptions lists an account's subscriptions, oldest first, opened.
	PushSubscriptions(ctx context.Context, accountID string) ([]*PushSubscription, error)
	// DeletePushSubscription deletes one; ENOTFOUND for another account's or a missing one.
	DeletePushSubscription(ctx context.Context, accountID, id string) error

	// AddWebhook stores w. ECONFLICT beyond MaxWebhooks.
	AddWebhook(ctx context.Context, w *Webhook) error
	// Webhooks lists a family's webhooks, oldest first, opened.
	Webhooks(ctx context.Context, familyID string) ([]*Webhook, error)
	// DeleteWebhook deletes one; ENOTFOUND for another family's or a missing one.
	DeleteWebhook(ctx context.Context, familyID, id string) error

	// NotificationPrefs returns an account's preferences (the zero value when never set).
	NotificationPrefs(ctx context.Context, accountID string) (*NotificationPrefs, error)
	// SetNotificationPrefs replaces them.
	SetNotificationPrefs(ctx context.Context, accountID string, p *NotificationPrefs) error
}

func pushAAD(id string) []byte    { return []byte("push_subscriptions:" + id) }
func webhookAAD(id string) []byte { return []byte("webhooks:" + id) }

type pushSecret struct {
	Endpoint  string `json:"endpoint"`
	P256dh    string `json:"p256dh"`
	Auth      string `json:"auth"`
	UserAgent string `json:"user_agent,omitempty"`
}

type webhookSecret struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
	Format string `json:"format,omitempty"`
}

// SealPushSubscription seals what a subscription says with its account's key.
func SealPushSubscription(ctx context.Context, keys keyring, s *PushSubscription) ([]byte, error) {
	plain, err := json.Marshal(pushSecret{s.Endpoint, s.P256dh, s.Auth, s.UserAgent})
	if err != nil {
		return nil, err
	}
	sealed, err := keys.Seal(ctx, AccountOwner(s.AccountID), pushAAD(s.ID), plain)
	return sealed, SealError(err)
}

// OpenPushSubscription fills s (its ID and AccountID set) from sealed.
func OpenPushSubscription(ctx context.Context, keys keyring, s *PushSubscription, sealed []byte) error {
	plain, err := keys.Open(ctx, AccountOwner(s.AccountID), pushAAD(s.ID), sealed)
	if err != nil {
		return Errorf(EUNAVAILABLE, "push subscription %s does not open: %v", s.ID, err)
	}
	var p pushSecret
	if err := json.Unmarshal(plain, &p); err != nil {
		return err
	}
	s.Endpoint, s.P256dh, s.Auth, s.UserAgent = p.Endpoint, p.P256dh, p.Auth, p.UserAgent
	return nil
}

// SealWebhook seals a webhook's name, URL and secret with its family's key.
func SealWebhook(ctx context.Context, keys keyring, w *Webhook) ([]byte, error) {
	plain, err := json.Marshal(webhookSecret{w.Name, w.URL, w.Secret, w.Format})
	if err != nil {
		return nil, err
	}
	sealed, err := keys.Seal(ctx, FamilyOwner(w.FamilyID), webhookAAD(w.ID), plain)
	return sealed, SealError(err)
}

// OpenWebhook fills w (its ID and FamilyID set) from sealed.
func OpenWebhook(ctx context.Context, keys keyring, w *Webhook, sealed []byte) error {
	plain, err := keys.Open(ctx, FamilyOwner(w.FamilyID), webhookAAD(w.ID), sealed)
	if err != nil {
		return Errorf(EUNAVAILABLE, "webhook %s does not open: %v", w.ID, err)
	}
	var p webhookSecret
	if err := json.Unmarshal(plain, &p); err != nil {
		return err
	}
	w.Name, w.URL, w.Secret, w.Format = p.Name, p.URL, p.Secret, p.Format
	return nil
}

// keyring is what sealing needs of *envelope.Keyring.
type keyring interface {
	Seal(ctx context.Context, owner string, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, owner string, aad, sealed []byte) ([]byte, error)
}
