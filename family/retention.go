package family

import (
	"context"
	"slices"
	"time"

	"kinwatch"
)

// RetentionView is how long a family's children's data is kept, in days per class: what the
// operator keeps at most, what the family chose, and what applies.
type RetentionView struct {
	Operator, Chosen, Effective map[kinwatch.RetentionClass]int
}

func (s *Service) operatorRetention() kinwatch.Retention {
	if s.Retention != nil {
		return s.Retention
	}
	return kinwatch.DefaultRetention()
}

// FamilyRetention returns the family's retention to any member.
func (s *Service) FamilyRetention(ctx context.Context, accountID, familyID string) (*RetentionView, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, false); err != nil {
		return nil, err
	}
	chosen, err := s.Store.FamilyRetention(ctx, familyID)
	if err != nil {
		return nil, err
	}
	return s.view(chosen), nil
}

func (s *Service) view(chosen map[kinwatch.RetentionClass]int) *RetentionView {
	v := &RetentionView{Operator: map[kinwatch.RetentionClass]int{}, Chosen: chosen, Effective: map[kinwatch.RetentionClass]int{}}
	op := s.operatorRetention()
	for _, c := range kinwatch.FamilyRetentionClasses {
		days := int(op[c] / (24 * time.Hour))
		v.Operator[c], v.Effective[c] = days, days
		if d, ok := chosen[c]; ok && d < days {
			v.Effective[c] = d
		}
	}
	return v
}

// SetRetention replaces the family's choice (the admin only): days per class, each at least one
// and shorter than the operator's; classes not named keep the operator's period. The retention
// job applies it on its next run.
func (s *Service) SetRetention(ctx context.Context, accountID, familyID string, days map[kinwatch.RetentionClass]int) (*RetentionView, error) {
	if _, err := s.RequireMember(ctx, accountID, familyID, true); err != nil {
		return nil, err
	}
	op := s.operatorRetention()
	for c, d := range days {
		if !slices.Contains(kinwatch.FamilyRetentionClasses, c) {
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "%q: not a class a family chooses (one of %v)", c, kinwatch.FamilyRetentionClasses)
		}
		max := int(op[c] / (24 * time.Hour))
		if d < 1 || d > max {
			return nil, kinwatch.Errorf(kinwatch.EINVALID, "%s: %d days; choose 1 to %d (this server keeps it at most %d days)", c, d, max, max)
		}
	}
	if err := s.Store.SetFamilyRetention(ctx, familyID, days); err != nil {
		return nil, err
	}
	return s.view(days), nil
}
