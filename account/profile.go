package account

import (
	"context"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // time zones are validated by name even on machines without a zoneinfo database
	"unicode"
	"unicode/utf8"

	"kinwatch"
)

// ProfilePatch changes a guardian's profile and preferences; nil fields stay as they are. The
// sign-up identifiers (email, phone) are not here: they change only through verification.
type ProfilePatch struct {
	Nickname *string
	Gender   *string
	Birthday *string
	Region   *string
	Bio      *string
	Language *string
	Units    *string
	TimeZone *string
	MapStyle *string
}

var (
	languagePattern = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`)
	regionPattern   = regexp.MustCompile(`^[A-Z]{2}$`)
	genders         = map[string]bool{"": true, "female": true, "male": true, "other": true}
	unitSystems     = map[string]bool{"metric": true, "imperial": true}
	mapStyles       = map[string]bool{"standard": true, "satellite": true, "dark": true}
)

// DefaultPreferences are a new account's preferences.
var DefaultPreferences = kinwatch.Preferences{Language: "en", Units: "metric", TimeZone: "UTC", MapStyle: "standard"}

// Apply validates p and applies it to a; on error a is unchanged.
func (p ProfilePatch) Apply(a *kinwatch.Account, now time.Time) error {
	prof, pref := a.Profile, a.Preferences
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&prof.Nickname, p.Nickname)
	set(&prof.Gender, p.Gender)
	set(&prof.Birthday, p.Birthday)
	set(&prof.Region, p.Region)
	set(&prof.Bio, p.Bio)
	set(&pref.Language, p.Language)
	set(&pref.Units, p.Units)
	set(&pref.TimeZone, p.TimeZone)
	set(&pref.MapStyle, p.MapStyle)
	prof.Region = strings.ToUpper(prof.Region)
	if err := validateProfile(prof, now); err != nil {
		return err
	}
	if err := validatePreferences(pref); err != nil {
		return err
	}
	a.Profile, a.Preferences = prof, pref
	return nil
}

func invalid(format string, args ...any) error {
	return kinwatch.Errorf(kinwatch.EINVALID, format, args...)
}

// ValidateText checks a free-text field: valid UTF-8, no control characters, at most max characters.
func ValidateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid("%s: not valid UTF-8 text", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid("%s: %d characters, at most %d allowed", field, n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return invalid("%s: control characters are not allowed", field)
		}
	}
	return nil
}

// ValidateDate checks a YYYY-MM-DD date in the past (or ""), such as a birthday.
func ValidateDate(field, s string, now time.Time) error {
	if s == "" {
		return nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return invalid("%s: %q is not a date like 2015-04-30", field, truncate(s, 20))
	}
	if d.After(now) || d.Year() < 1900 {
		return invalid("%s: must be between 1900 and today", field)
	}
	return nil
}

func validateProfile(p kinwatch.Profile, now time.Time) error {
	if p.Nickname == "" {
		return invalid("nickname: required")
	}
	if err := ValidateText("nickname", p.Nickname, 40); err != nil {
		return err
	}
	if strings.ContainsRune(p.Nickname, '\n') {
		return invalid("nickname: must be one line")
	}
	if !genders[p.Gender] {
		return invalid("gender: one of female, male, other, or empty")
	}
	if err := ValidateDate("birthday", p.Birthday, now); err != nil {
		return err
	}
	if p.Region != "" && !regionPattern.MatchString(p.Region) {
		return invalid("region: a two-letter country code such as DE or BR")
	}
	return ValidateText("bio", p.Bio, 500)
}

func validatePreferences(p kinwatch.Preferences) error {
	if !languagePattern.MatchString(p.Language) {
		return invalid("language: a language tag such as en or pt-BR")
	}
	if !unitSystems[p.Units] {
		return invalid("units: metric or imperial")
	}
	if p.TimeZone == "" || p.TimeZone == "Local" {
		return invalid("time_zone: an IANA time zone such as Europe/Berlin")
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil {
		return invalid("time_zone: %q is not an IANA time zone such as Europe/Berlin", truncate(p.TimeZone, 60))
	}
	if !mapStyles[p.MapStyle] {
		return invalid("map_style: standard, satellite or dark")
	}
	return nil
}

// UpdateProfile applies p to the account and stores it.
func (s *Service) UpdateProfile(ctx context.Context, accountID string, p ProfilePatch) (*kinwatch.Account, error) {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := p.Apply(a, now); err != nil {
		return nil, err
	}
	a.UpdatedAt = now
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}
