// Package consent owns consent per purpose: what guardians consented to for their children and
// what accounts consented to for themselves, under which policy version, recorded in the ledger
// with its history. Every purpose is off until given; giving consent for a child takes the
// guardian's fresh re-authentication and explicit statement (verifiable parental consent);
// withdrawing takes one request and stops collection at once, because the storage writer reads
// the consent in its transaction.
//
// It decides who may give or withdraw and records it; it does not gate collection itself (the
// store and the gateway do, from the recorded consent) and it talks HTTP nowhere.
package consent

import (
	"context"
	"fmt"
	"slices"
	"time"

	"kinwatch"
)

// Reauthenticator proves the account's owner is at the keyboard (account.Service).
type Reauthenticator interface {
	Reauthenticate(ctx context.Context, accountID string, session *kinwatch.Session, password string) error
}

// Access answers what an account may do with a watch (family.Service).
type Access interface {
	Require(ctx context.Context, accountID, deviceID string, control bool) (*kinwatch.WatchAccess, error)
}

// DeviceNotifier learns that a watch's consent changed, so its connection re-reads it now (the
// gateway); nil when nothing needs telling.
type DeviceNotifier interface {
	NotifyDevice(deviceID string)
}

// StatementText is the guardian's statement, with the policy version in place of %s. The ledger
// keeps the text as it was confirmed.
const StatementText = "I am this child's parent or legal guardian. I have read the privacy policy (version %s) " +
	"and consent to the collection and use of my child's data for the purposes I selected. " +
	"I can withdraw this consent at any time, which stops the collection at once."

// Service records and reads consent.
type Service struct {
	Store    kinwatch.Store
	Accounts Reauthenticator
	Watches  Access
	Devices  DeviceNotifier
	// PolicyVersion is the privacy policy in force: consent is given under it, and only a client
	// that showed this version may record consent.
	PolicyVersion string
	Now           func() time.Time
}

// State is a subject's current consent.
type State struct {
	Granted       kinwatch.Purposes
	Available     []kinwatch.Purpose // what can be consented to for this subject
	PolicyVersion string             // the version consent is given under now
	Statement     string             // what a guardian confirms to give consent for a child ("" for an account)
}

// Change gives and withdraws purposes.
type Change struct {
	Grant, Withdraw []kinwatch.Purpose
	// PolicyVersion is the policy version the user was shown; giving consent needs the one in
	// force.
	PolicyVersion string
	// Password re-authenticates a guardian giving consent for a child.
	Password string
	// Statement is true when the guardian confirmed State.Statement.
	Statement bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) statement() string { return fmt.Sprintf(StatementText, s.PolicyVersion) }

// Child returns the consent for the child wearing deviceID; every member of the watch's family
// may read it.
func (s *Service) Child(ctx context.Context, accountID, deviceID string) (*State, error) {
	if _, err := s.Watches.Require(ctx, accountID, deviceID, false); err != nil {
		return nil, err
	}
	d, err := s.Store.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	return &State{Granted: d.Consent, Available: kinwatch.ChildPurposes, PolicyVersion: s.PolicyVersion, Statement: s.statement()}, nil
}

// ChangeChild gives and withdraws consent for the child wearing deviceID, as a guardian of its
// family (viewers cannot). Giving needs re-authentication, the statement and the policy version
// in force; withdrawing needs neither. Withdrawing the basic service withdraws every purpose.
func (s *Service) ChangeChild(ctx context.Context, accountID string, session *kinwatch.Session, deviceID string, ch Change) (*State, error) {
	acc, err := s.Watches.Require(ctx, accountID, deviceID, true)
	if err != nil {
		return nil, err
	}
	if err := checkChange(ch, kinwatch.ChildPurposes); err != nil {
		return nil, err
	}
	d, err := s.Store.Device(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if len(ch.Grant) > 0 {
		if err := s.checkGrant(ch); err != nil {
			return nil, err
		}
		if !ch.Statement {
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "statement: confirm that you are the child's parent or legal guardian")
		}
		if !slices.Contains(ch.Grant, kinwatch.PurposeService) && !d.Consent.Has(kinwatch.PurposeService.Bit()) {
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "grant: the consent to the basic service (%q) comes first", kinwatch.PurposeService)
		}
		if err := s.Accounts.Reauthenticate(ctx, accountID, session, ch.Password); err != nil {
			return nil, err
		}
	}
	withdraw := ch.Withdraw
	if slices.Contains(withdraw, kinwatch.PurposeService) {
		// Without the basic service nothing is collected; the rest goes too, so giving the
		// service again does not bring back purposes nobody confirmed since.
		withdraw = kinwatch.ChildPurposes
	}
	now := s.now()
	var entries []*kinwatch.Consent
	add := func(p kinwatch.Purpose, granted bool, method, statement string) {
		entries = append(entries, &kinwatch.Consent{ID: kinwatch.NewID(), AccountID: accountID, FamilyID: acc.FamilyID, DeviceID: deviceID,
			Purpose: p, Granted: granted, PolicyVersion: s.PolicyVersion, Method: method, Statement: statement, Time: now})
	}
	for _, p := range withdraw {
		if slices.Contains(ch.Withdraw, p) || d.Consent.Has(p.Bit()) {
			add(p, false, kinwatch.ConsentSettings, "")
		}
	}
	for _, p := range ch.Grant {
		add(p, true, kinwatch.ConsentReauthenticated, s.statement())
	}
	granted, err := s.Store.RecordConsents(ctx, entries)
	if err != nil {
		return nil, err
	}
	if s.Devices != nil {
		s.Devices.NotifyDevice(deviceID)
	}
	return &State{Granted: granted, Available: kinwatch.ChildPurposes, PolicyVersion: s.PolicyVersion, Statement: s.statement()}, nil
}

// ChildHistory lists the ledger of the child wearing deviceID, newest first; every member of the
// family may read it.
func (s *Service) ChildHistory(ctx context.Context, accountID, deviceID string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	if _, err := s.Watches.Require(ctx, accountID, deviceID, false); err != nil {
		return nil, err
	}
	return s.Store.ChildConsents(ctx, deviceID, p)
}

// Account returns the account's consent for its own data.
func (s *Service) Account(ctx context.Context, accountID string) (*State, error) {
	a, err := s.Store.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return &State{Granted: a.Consent, Available: kinwatch.AccountPurposes, PolicyVersion: s.PolicyVersion}, nil
}

// ChangeAccount gives and withdraws the account's consent for its own data.
func (s *Service) ChangeAccount(ctx context.Context, accountID string, ch Change) (*State, error) {
	if err := checkChange(ch, kinwatch.AccountPurposes); err != nil {
		return nil, err
	}
	if len(ch.Grant) > 0 {
		if err := s.checkGrant(ch); err != nil {
			return nil, err
		}
	}
	now := s.now()
	var entries []*kinwatch.Consent
	for _, c := range []struct {
		ps      []kinwatch.Purpose
		granted bool
	}{{ch.Withdraw, false}, {ch.Grant, true}} {
		for _, p := range c.ps {
			entries = append(entries, &kinwatch.Consent{ID: kinwatch.NewID(), AccountID: accountID, Purpose: p, Granted: c.granted,
				PolicyVersion: s.PolicyVersion, Method: kinwatch.ConsentSettings, Time: now})
		}
	}
	granted, err := s.Store.RecordConsents(ctx, entries)
	if err != nil {
		return nil, err
	}
	return &State{Granted: granted, Available: kinwatch.AccountPurposes, PolicyVersion: s.PolicyVersion}, nil
}

// AccountHistory lists the ledger of the account's own consent, newest first.
func (s *Service) AccountHistory(ctx context.Context, accountID string, p kinwatch.Page) ([]*kinwatch.Consent, error) {
	return s.Store.AccountConsents(ctx, accountID, p)
}

func (s *Service) checkGrant(ch Change) error {
	if ch.PolicyVersion != s.PolicyVersion {
		return kinwatch.Errorf(kinwatch.ECONFLICT, "policy_version: consent is given under the privacy policy in force, version %q; show it and ask again", s.PolicyVersion)
	}
	return nil
}

// checkChange: something to change, each purpose one this subject can consent to, none both given
// and withdrawn.
func checkChange(ch Change, allowed []kinwatch.Purpose) error {
	if len(ch.Grant) == 0 && len(ch.Withdraw) == 0 {
		return kinwatch.Errorf(kinwatch.EINVALID, "grant, withdraw: name at least one purpose")
	}
	for _, list := range [][]kinwatch.Purpose{ch.Grant, ch.Withdraw} {
		for i, p := range list {
			if !slices.Contains(allowed, p) {
				return kinwatch.Errorf(kinwatch.EINVALID, "%q is not a purpose one can consent to here (one of %v)", p, allowed)
			}
			if slices.Contains(list[:i], p) {
				return kinwatch.Errorf(kinwatch.EINVALID, "%q is named twice", p)
			}
		}
	}
	for _, p := range ch.Grant {
		if slices.Contains(ch.Withdraw, p) {
			return kinwatch.Errorf(kinwatch.EINVALID, "%q is both given and withdrawn", p)
		}
	}
	return nil
}
