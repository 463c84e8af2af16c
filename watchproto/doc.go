// Package watchproto is the wire format of the "3G / SeTracker" children's-watch TCP protocol:
// framing, decoding of every device→server message, the replies the server owes, and encoding of
// every server→device command.
//
// It does no I/O and keeps no state beyond a Framer's partial frame: the gateway owns connections,
// the store owns persistence. Watch input is never trusted: nothing here panics on any input, every
// buffer is bounded, and unknown messages decode to a generic value rather than an error.
package watchproto
