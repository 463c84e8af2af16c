package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"kinwatch"
)

// Message is one delivery with everything its channel needs.
type Message struct {
	Delivery     *kinwatch.Delivery
	Event        *kinwatch.Event
	Account      *kinwatch.Account          // the guardian; nil for a webhook
	Subscription *kinwatch.PushSubscription // for push
	Webhook      *kinwatch.Webhook          // for a webhook
	Child        string                     // the child's name, or a stand-in
	Place        string                     // a fence alarm's safe zone
	Title, Body  string
	Position     *kinwatch.Position // the newest known, nil if none
	Link         string             // the app's page of the watch
	Settings     string             // the app's page of notification settings
	Blockable    bool               // the "X" can block this kind (all but SOS)
}

// Texts writes what a guardian reads.
type Texts struct {
	// BaseURL is the server's public URL, for links.
	BaseURL string
	// FenceName names a safe zone, "" if it is gone.
	FenceName func(ctx context.Context, deviceID, fenceID string) string
}

func (t Texts) fill(ctx context.Context, st kinwatch.Store, m *Message) error {
	d, e := m.Delivery, m.Event
	m.Child = "Your child"
	p, err := st.ChildProfile(ctx, d.DeviceID)
	switch {
	case err == nil && strings.TrimSpace(p.Name) != "":
		m.Child = p.Name
	case err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND:
		return err
	}
	pos, err := st.LatestPosition(ctx, d.DeviceID)
	switch {
	case err == nil && pos.HasCoords:
		m.Position = pos
	case err != nil && kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND:
		return err
	}
	if e.Subject != "" && t.FenceName != nil {
		m.Place = t.FenceName(ctx, d.DeviceID, e.Subject)
	}
	loc := time.UTC
	if m.Account != nil {
		if l, err := time.LoadLocation(m.Account.Preferences.TimeZone); err == nil {
			loc = l
		}
	}
	base := strings.TrimRight(t.BaseURL, "/")
	m.Link = base + "/watches/" + d.DeviceID
	m.Settings = base + "/settings/notifications"
	m.Blockable = e.Alarm != "sos"
	at := e.Time
	if e.Alarm == kinwatch.AlarmOffline {
		// The alarm is dated when the silence became too long; the text says since when.
		var d struct {
			LastSeen time.Time `json:"last_seen"`
		}
		if json.Unmarshal(e.Data, &d) == nil && !d.LastSeen.IsZero() {
			at = d.LastSeen
		}
	}
	m.Title, m.Body = Describe(e.Alarm, m.Child, m.Place, at.In(loc))
	return nil
}

// Describe is the title and text of an alarm of kind about child at t (in the reader's zone).
func Describe(kind, child, place string, t time.Time) (title, body string) {
	at := t.Format("15:04 MST on Mon 2 Jan") // with the zone: a webhook's reader may be anywhere
	if place == "" {
		place = "a safe zone"
	}
	switch kind {
	case "sos":
		return "SOS from " + child, child + " pressed the SOS button at " + at + "."
	case "fall":
		return child + " may have fallen", "The watch detected a fall at " + at + "."
	case "low_battery":
		return child + "'s watch battery is low", "The watch reported a low battery at " + at + "."
	case kinwatch.AlarmBatteryCritical:
		return child + "'s watch is about to switch off", "The battery was nearly empty at " + at + "."
	case "removed":
		return child + " took the watch off", "The watch was taken off at " + at + "."
	case "abnormal_heart_rate":
		return "Unusual heart rate for " + child, "The watch measured an unusual heart rate at " + at + "."
	case "power_cut":
		return child + "'s watch was switched off", "The watch was switched off at " + at + "."
	case "geofence_enter":
		return child + " entered a zone set on the watch", "At " + at + "."
	case "geofence_exit":
		return child + " left a zone set on the watch", "At " + at + "."
	case kinwatch.AlarmFenceEnter:
		return child + " arrived at " + place, child + " arrived at " + place + " at " + at + "."
	case kinwatch.AlarmFenceExit:
		return child + " left " + place, child + " left " + place + " at " + at + "."
	case kinwatch.AlarmOffline:
		return child + "'s watch is offline", "Nothing has been heard from the watch since " + at + "."
	}
	return "Alarm from " + child + "'s watch", "The watch raised an alarm at " + at + "."
}

// Urgent alarms may need someone to act at once.
func Urgent(kind string) bool {
	return kind == "sos" || kind == "fall"
}

// InQuietHours reports whether now falls in q (which only SOS and a fall go through). A zone that does not load means UTC.
func InQuietHours(q kinwatch.QuietHours, now time.Time) bool {
	from, ok1 := clock(q.From)
	to, ok2 := clock(q.To)
	if !ok1 || !ok2 || from == to {
		return false
	}
	loc, err := time.LoadLocation(q.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	t := now.In(loc)
	m := t.Hour()*60 + t.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to // spans midnight
}

// clock parses "HH:MM" into minutes of the day.
func clock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// CheckPrefs reports the first problem with p, in words fit for the guardian.
func CheckPrefs(p *kinwatch.NotificationPrefs) error {
	kinds := kinwatch.AlarmKinds()
	for kind, chans := range p.Channels {
		if !slices.Contains(kinds, kind) {
			return fmt.Errorf("channels: %q is not an alarm (one of %s)", kind, strings.Join(kinds, ", "))
		}
		seen := map[kinwatch.Channel]bool{}
		for _, c := range chans {
			if c != kinwatch.ChannelPush && c != kinwatch.ChannelEmail {
				return fmt.Errorf("channels: %s: %q is not a channel a guardian chooses (push or email; webhooks are the family's)", kind, c)
			}
			if seen[c] {
				return fmt.Errorf("channels: %s: %s is listed twice", kind, c)
			}
			seen[c] = true
		}
		if kind == "sos" && len(chans) == 0 {
			return errors.New("channels: sos cannot be switched off: an SOS always reaches every guardian")
		}
	}
	if q := p.QuietHours; q != nil {
		if _, ok := clock(q.From); !ok {
			return fmt.Errorf("quiet_hours: from: %q is not a time of day as HH:MM", q.From)
		}
		if _, ok := clock(q.To); !ok {
			return fmt.Errorf("quiet_hours: to: %q is not a time of day as HH:MM", q.To)
		}
		if q.From == q.To {
			return errors.New("quiet_hours: from and to are the same time")
		}
		if _, err := time.LoadLocation(q.TimeZone); err != nil || q.TimeZone == "" || q.TimeZone == "Local" {
			return fmt.Errorf("quiet_hours: time_zone: %q is not a time zone such as Europe/Berlin", q.TimeZone)
		}
	}
	return nil
}

// Block takes channel off the alarm kind in p (what the "X" on a notification does). SOS is
// never blocked.
func Block(p *kinwatch.NotificationPrefs, kind string, channel kinwatch.Channel) error {
	if kind == "sos" {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "an SOS cannot be blocked: it always reaches every guardian")
	}
	chans := slices.DeleteFunc(slices.Clone(p.ChannelsFor(kind)), func(c kinwatch.Channel) bool { return c == channel })
	if p.Channels == nil {
		p.Channels = map[string][]kinwatch.Channel{}
	}
	p.Channels[kind] = append([]kinwatch.Channel{}, chans...)
	return nil
}
