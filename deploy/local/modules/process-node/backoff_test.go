// Tests of the restart back-off.
package main

import (
	"testing"
	"time"
)

func TestNextBackoff(t *testing.T) {
	var d time.Duration
	var got []time.Duration
	for range 6 {
		d = nextBackoff(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("step %d: got %v, want %v (all %v)", i, got[i], want[i]*time.Second, got)
		}
	}
	if nextBackoff(10*time.Second, 25*time.Second) != time.Second {
		t.Errorf("a long run must reset the back-off")
	}
}
