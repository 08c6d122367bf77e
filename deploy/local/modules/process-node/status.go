// Pod status from the containers' states: phase and conditions like kubelet
// (PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady,
// Ready). Readiness gates are not evaluated.
package main

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podPhase derives the phase. initFailed: an init container failed and will
// not be retried; initDone: all init containers completed.
func podPhase(initFailed, initDone bool, ctrs []v1.ContainerStatus) v1.PodPhase {
	if initFailed {
		return v1.PodFailed
	}
	if !initDone {
		return v1.PodPending
	}
	running, restarting, fresh, failed := 0, 0, 0, 0
	for _, s := range ctrs {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failed++
			}
		case s.RestartCount > 0 || s.LastTerminationState.Terminated != nil:
			restarting++
		default:
			fresh++
		}
	}
	switch {
	case running > 0 || restarting > 0:
		return v1.PodRunning
	case fresh > 0:
		return v1.PodPending
	case failed > 0:
		return v1.PodFailed
	}
	return v1.PodSucceeded
}

// conditionSet keeps condition transition times stable across updates.
type conditionSet map[v1.PodConditionType]v1.PodCondition

// set records a condition and returns it with the right transition time.
func (cs conditionSet) set(t v1.PodConditionType, ok bool, reason string, now metav1.Time) v1.PodCondition {
	status := v1.ConditionFalse
	if ok {
		status = v1.ConditionTrue
		reason = ""
	}
	c := v1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: now}
	if old, found := cs[t]; found && old.Status == status {
		c.LastTransitionTime = old.LastTransitionTime
	}
	cs[t] = c
	return c
}
