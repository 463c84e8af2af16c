// Package deident is how analytics and recommendations see people: only through keyed pseudonyms
// that rotate, and only as aggregates released above a k-anonymity threshold. It keeps the seed
// privacy policy's promises that data analysis "corresponds only to specific, unrelated codes that
// do not directly relate to your identity" and that aggregate statistics are "difficult to relate
// to your identity".
//
// A Pseudonymizer turns (kind, id) into a 26-character code: HMAC-SHA256 under a key derived from
// a server secret and the current epoch (floor(unix time / period)). Codes are stable within an
// epoch, so a period's analysis can join records of one person, and unrelated across epochs and
// kinds, so a code leaked from one period or one dataset links to nothing else. This is
// pseudonymisation, not anonymisation: whoever holds the secret can recompute codes, so the secret
// lives with the server and never with analytics.
//
// An Aggregator counts distinct subjects (pseudonyms) per group and releases only the groups with
// at least K of them. The groups it withholds are pooled into one "other" row only if together
// they have at least K distinct subjects, and no grand total is published: with a total, or with an
// "other" row covering a single small group, a reader could subtract the released rows and recover
// the small group (complementary disclosure). The same holds for totals published elsewhere: a
// caller must not release a total of the same data, nor two overlapping aggregations of it, nor
// one aggregation twice as it grows, since each can be differenced against a release.
//
// It must never return or log a raw id, never release a group with fewer than K distinct
// subjects, and never publish a grand total. It does no I/O and holds no data beyond one
// aggregation in memory.
package deident
