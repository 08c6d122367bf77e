// Tests of --image-map parsing and matching.
package main

import "testing"

func TestMatchImage(t *testing.T) {
	rules := []imageRule{
		{Pattern: "rayproject/ray:2.6.0*", Dir: "/venvs/ray-2.6"},
		{Pattern: "busybox*", Dir: hostImage},
		{Pattern: "*", Dir: "/venvs/default"},
	}
	cases := map[string]string{
		"rayproject/ray:2.6.0":                 "/venvs/ray-2.6",
		"rayproject/ray:2.6.0-py310":           "/venvs/ray-2.6",
		"docker.io/rayproject/ray:2.6.0":       "/venvs/ray-2.6",
		"docker.io/library/busybox:1.36":       hostImage,
		"quay.io/kuberay/operator:v1.7.0":      "/venvs/default",
		"rayproject/ray:2.9.0":                 "/venvs/default",
		"registry.example/x/y@sha256:abcdef01": "/venvs/default",
	}
	for image, want := range cases {
		got, ok := matchImage(rules, image)
		if !ok || got.Dir != want {
			t.Errorf("matchImage(%q) = %v %v, want %q", image, got, ok, want)
		}
	}
	if _, ok := matchImage(rules[:1], "busybox"); ok {
		t.Errorf("busybox must not match rayproject/ray:2.6.0*")
	}
}

func TestGlobMatch(t *testing.T) {
	yes := [][2]string{{"*", ""}, {"a*c", "abbbc"}, {"a?c", "abc"}, {"*:2.*", "x/y:2.9"}, {"a*b*c", "aXbYbc"}}
	no := [][2]string{{"a?c", "ac"}, {"a*c", "abd"}, {"abc", "abcd"}, {"*:2.*", "x/y:3.0"}}
	for _, c := range yes {
		if !globMatch(c[0], c[1]) {
			t.Errorf("globMatch(%q, %q) = false", c[0], c[1])
		}
	}
	for _, c := range no {
		if globMatch(c[0], c[1]) {
			t.Errorf("globMatch(%q, %q) = true", c[0], c[1])
		}
	}
}

func TestParseImageRule(t *testing.T) {
	if r, err := parseImageRule("rayproject/ray:*=/opt/venv"); err != nil || r.Pattern != "rayproject/ray:*" || r.Dir != "/opt/venv" {
		t.Errorf("got %v %v", r, err)
	}
	if r, err := parseImageRule("*=host"); err != nil || r.Dir != hostImage {
		t.Errorf("got %v %v", r, err)
	}
	for _, bad := range []string{"noequals", "=/x", "*=", "*=relative/dir"} {
		if _, err := parseImageRule(bad); err == nil {
			t.Errorf("parseImageRule(%q) accepted", bad)
		}
	}
}
