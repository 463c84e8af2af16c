package kinwatch

import (
	"context"
	"encoding/json"
	"time"
)

// CommandState is where a server→watch command is in its life.
type CommandState string

const (
	CommandQueued       CommandState = "queued"
	CommandSent         CommandState = "sent"
	CommandAcknowledged CommandState = "acknowledged"
	CommandFailed       CommandState = "failed"
	CommandExpired      CommandState = "expired"
)

// Final reports whether no further transition can happen.
func (s CommandState) Final() bool {
	return s == CommandAcknowledged || s == CommandFailed || s == CommandExpired
}

// Command is a server→watch command in the per-watch persistent queue. Commands of one device are
// delivered in Seq order.
type Command struct {
	ID        string
	DeviceID  string
	Seq       int64  // assigned by the store; orders a device's commands
	Keyword   string // what the watch's acknowledgement starts with (e.g. "CR", "VERNO")
	Content   []byte // the frame content as it goes on the wire (escaped), without header
	NoReply   bool   // the watch never answers this command (IP): done once sent
	State     CommandState
	CreatedAt time.Time
	SentAt    time.Time
	DoneAt    time.Time
	ExpiresAt time.Time
	Attempts  int
	Reply     string // the data of the acknowledgement (firmware version, settings …)
	Error     string
	// RequestedBy is the account that queued the command ("" for operators' CLI commands).
	RequestedBy string
	// IdempotencyKey is the client's key for the request that queued it; a retry with the same key
	// by the same account for the same device finds this command instead of queueing another.
	IdempotencyKey string
	// Sealed is set by a store between reading a command and opening its content; reads return
	// commands opened, with Sealed false.
	Sealed bool
}

// CommandStore is the persistent command queue.
type CommandStore interface {
	// EnqueueCommand stores c (ID, DeviceID, Keyword, Content, ExpiresAt set by the caller) as
	// queued, assigning Seq and CreatedAt. With an IdempotencyKey that the same account already used
	// for the device it stores nothing and fails with ECONFLICT.
	EnqueueCommand(ctx context.Context, c *Command) error
	// CommandByIdempotencyKey finds the command an account queued with key; ENOTFOUND if none.
	CommandByIdempotencyKey(ctx context.Context, deviceID, accountID, key string) (*Command, error)
	Command(ctx context.Context, id string) (*Command, error)
	// Commands lists a device's commands, newest (highest Seq) first: at most limit (0: all) with a
	// Seq below beforeSeq (0: from the newest).
	Commands(ctx context.Context, deviceID string, beforeSeq int64, limit int) ([]*Command, error)
	// PendingCommands lists a device's queued and sent commands in Seq order.
	PendingCommands(ctx context.Context, deviceID string) ([]*Command, error)
	// MarkCommandSent records a delivery attempt.
	MarkCommandSent(ctx context.Context, id string, at time.Time) error
	// FinishCommand moves a command to a final state; it fails with ECONFLICT if it already is final.
	FinishCommand(ctx context.Context, id string, state CommandState, reply, errText string, at time.Time) error
	// ExpireCommands moves every non-final command whose ExpiresAt is before now to expired and
	// returns them.
	ExpireCommands(ctx context.Context, now time.Time) ([]*Command, error)
}

// CommandNotifier tells the gateway holding a watch's connection that new commands are queued.
// In one process it is a direct call; in a cluster it travels over the message bus.
type CommandNotifier interface {
	NotifyCommands(deviceID string)
}

// CommandEvent builds the event that announces a command's new state; subscribers (the live stream,
// the API) learn of acknowledgements and failures through it.
func CommandEvent(cmd *Command, state CommandState, at time.Time) *Event {
	data, _ := json.Marshal(struct {
		ID      string `json:"command_id"`
		Keyword string `json:"keyword"`
		State   string `json:"state"`
		Reply   string `json:"reply,omitempty"`
		Error   string `json:"error,omitempty"`
	}{cmd.ID, cmd.Keyword, string(state), cmd.Reply, cmd.Error})
	return &Event{ID: NewTimeID(at), DeviceID: cmd.DeviceID, Time: at, Type: EventCommand, Data: data}
}
