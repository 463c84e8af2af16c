// Package kinwatch holds the domain: the types every part of the server shares (devices, positions,
// events, commands), the interfaces of the services that store and move them, and the one error type.
//
// It owns no I/O. Adapters live in packages named after what they wrap (sqlite, postgres, gateway …)
// and depend on this package, never the other way round.
package kinwatch
