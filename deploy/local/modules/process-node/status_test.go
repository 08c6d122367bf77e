// Tests of the pod phase derivation.
package main

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestPodPhase(t *testing.T) {
	run := v1.ContainerStatus{State: v1.ContainerState{Running: &v1.ContainerStateRunning{}}}
	ok := v1.ContainerStatus{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 0}}}
	bad := v1.ContainerStatus{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1}}}
	fresh := v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	backoff := v1.ContainerStatus{RestartCount: 2, State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
	cases := []struct {
		name             string
		initFailed, done bool
		ctrs             []v1.ContainerStatus
		want             v1.PodPhase
	}{
		{"init running", false, false, []v1.ContainerStatus{fresh}, v1.PodPending},
		{"init failed", true, false, []v1.ContainerStatus{fresh}, v1.PodFailed},
		{"one running", false, true, []v1.ContainerStatus{run, fresh}, v1.PodRunning},
		{"crash looping", false, true, []v1.ContainerStatus{backoff}, v1.PodRunning},
		{"creating", false, true, []v1.ContainerStatus{fresh}, v1.PodPending},
		{"all ok", false, true, []v1.ContainerStatus{ok, ok}, v1.PodSucceeded},
		{"one failed", false, true, []v1.ContainerStatus{ok, bad}, v1.PodFailed},
	}
	for _, c := range cases {
		if got := podPhase(c.initFailed, c.done, c.ctrs); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
