//go:build !unix

package sim

func openFileLimit() int { return 0 }
