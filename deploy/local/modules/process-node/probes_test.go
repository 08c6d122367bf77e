// Tests of the probe threshold tracker and port resolution.
package main

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestReadinessThresholds(t *testing.T) {
	tr := newProbeTracker(&v1.Probe{SuccessThreshold: 2, FailureThreshold: 3}, false)
	steps := []struct {
		ok      bool
		want    probeResult
		changed bool
	}{
		{true, probeUnknown, false},
		{true, probeSuccess, true},
		{false, probeSuccess, false},
		{false, probeSuccess, false},
		{true, probeSuccess, false}, // a success resets the failure run
		{false, probeSuccess, false},
		{false, probeSuccess, false},
		{false, probeFailure, true},
		{true, probeFailure, false},
		{true, probeSuccess, true},
	}
	for i, s := range steps {
		got, changed := tr.observe(s.ok)
		if got != s.want || changed != s.changed {
			t.Fatalf("step %d: got %v/%v, want %v/%v", i, got, changed, s.want, s.changed)
		}
	}
}

func TestLivenessStartsHealthy(t *testing.T) {
	tr := newProbeTracker(&v1.Probe{SuccessThreshold: 1, FailureThreshold: 1}, true)
	if tr.result != probeSuccess {
		t.Fatalf("liveness must start as success")
	}
	if got, changed := tr.observe(false); got != probeFailure || !changed {
		t.Fatalf("one failure with threshold 1 must fail: %v %v", got, changed)
	}
	// Zero thresholds (not defaulted) fall back to 1 success / 3 failures.
	tr = newProbeTracker(&v1.Probe{}, true)
	tr.observe(false)
	tr.observe(false)
	if got, _ := tr.observe(false); got != probeFailure {
		t.Fatalf("default failure threshold 3")
	}
}

func TestResolvePort(t *testing.T) {
	c := &v1.Container{Ports: []v1.ContainerPort{{Name: "dashboard", ContainerPort: 8265}}}
	for in, want := range map[string]int{"dashboard": 8265, "8080": 8080} {
		if got, err := resolvePort(intstr.FromString(in), c); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if got, _ := resolvePort(intstr.FromInt32(52365), c); got != 52365 {
		t.Errorf("int port: %d", got)
	}
	if _, err := resolvePort(intstr.FromString("nope"), c); err == nil {
		t.Errorf("unknown name must fail")
	}
}
