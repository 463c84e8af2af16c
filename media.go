package kinwatch

import (
	"context"
	"time"
)

// Media kinds.
const (
	MediaAudio = "audio" // AMR-NB voice message
	MediaImage = "image" // JPEG photo
)

// Media is a voice message or photo a watch uploaded. The bytes live in a blob store under Key; the
// row holds only what is needed to find and describe them.
type Media struct {
	ID          string
	DeviceID    string
	Kind        string
	ContentType string
	Key         string // blob key
	Size        int64
	Time        time.Time
	// Family is the family whose key sealed the content ("" for none): a store keeps the record
	// only if the watch is still in that family, so content is never filed under a family that
	// cannot open it.
	Family string
}

// MediaStore reads media metadata (written through the Bus).
type MediaStore interface {
	Media(ctx context.Context, id string) (*Media, error)
	// MediaList lists a device's media newest first.
	MediaList(ctx context.Context, deviceID string, p Page) ([]*Media, error)
}

// BlobStore keeps media bytes. The file-system adapter is the default; an S3-compatible one can
// replace it.
type BlobStore interface {
	// Put stores data durably under key before it returns.
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}
