// Restart back-off of containers: 1 s doubling up to 10 s. Kubelet uses
// 10 s doubling up to 5 min; this node is for tests and demos, so restarts
// come quickly on purpose.
package main

import "time"

const (
	backoffInitial = time.Second
	backoffCap     = 10 * time.Second
	// backoffReset: a run at least this long starts the back-off afresh.
	backoffReset = 2 * backoffCap
)

// nextBackoff is the wait before the next restart, given the previous wait
// (0 = none yet) and how long the last run lasted.
func nextBackoff(prev, lastRun time.Duration) time.Duration {
	if prev <= 0 || lastRun >= backoffReset {
		return backoffInitial
	}
	next := prev * 2
	if next > backoffCap {
		next = backoffCap
	}
	return next
}
