package kinwatch

import (
	"context"
	"time"
)

// ExportState is where an export job is.
type ExportState string

const (
	ExportQueued     ExportState = "queued"
	ExportRunning    ExportState = "running"
	ExportReady      ExportState = "ready"      // the ZIP waits to be downloaded once
	ExportDownloaded ExportState = "downloaded" // downloaded, and deleted
	ExportFailed     ExportState = "failed"
	ExportExpired    ExportState = "expired" // not downloaded in time, and deleted
)

// ExportJob builds, in the background, a ZIP of everything kept about an account and the children
// in its families.
type ExportJob struct {
	ID         string
	AccountID  string
	State      ExportState
	TokenHash  []byte // SHA-256 of the download link's secret
	BlobKey    string // the sealed ZIP, while ready
	Size       int64
	Error      string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	ExpiresAt  time.Time // a ready export is deleted then
}

// ExportStore keeps export jobs.
type ExportStore interface {
	CreateExportJob(ctx context.Context, j *ExportJob) error
	// ExportJob returns one job of the account; ENOTFOUND for anyone else's.
	ExportJob(ctx context.Context, accountID, id string) (*ExportJob, error)
	// ExportJobByID returns a job by its id alone (the download link names no account).
	ExportJobByID(ctx context.Context, id string) (*ExportJob, error)
	// ExportJobs lists the account's jobs, newest first.
	ExportJobs(ctx context.Context, accountID string, limit int) ([]*ExportJob, error)
	// ClaimExportJob takes the oldest queued job, or a running one started before stale (its
	// worker died), marks it running at now and returns it; ENOTFOUND when there is none.
	ClaimExportJob(ctx context.Context, now, stale time.Time) (*ExportJob, error)
	// UpdateExportJob writes a job's state, token, blob, size, error and times; from is the state
	// it must still be in (ECONFLICT otherwise), so a download is counted once.
	UpdateExportJob(ctx context.Context, j *ExportJob, from ExportState) error
	// ExpiredExportJobs lists ready jobs whose ExpiresAt passed at now.
	ExpiredExportJobs(ctx context.Context, now time.Time, limit int) ([]*ExportJob, error)
}
