// Tests of env re-resolution, $(VAR) expansion and argv building.
package main

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResolveEnvReResolvesIPsAndResources(t *testing.T) {
	orig := v1.Container{
		Name: "ray-head",
		Env: []v1.EnvVar{
			{Name: "MY_POD_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "ADDR", Value: "$(MY_POD_IP):6379"},
			{Name: "CPU", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "MEM_MI", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "REQ_CPU_M", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "FROM_CM", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{Key: "k"}}},
			{Name: "OPT_MISSING", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}},
			{Name: "HOST", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
		},
		Resources: v1.ResourceRequirements{
			Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("1500m")},
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
		},
	}
	// What virtual-kubelet hands over: IP fieldRefs resolved to "", the
	// resourceFieldRefs dropped, $(MY_POD_IP) already expanded to "".
	resolved := []v1.EnvVar{
		{Name: "MY_POD_IP", Value: ""}, {Name: "ADDR", Value: ":6379"}, {Name: "FROM_CM", Value: "cm-value"},
		{Name: "HOST", Value: ""}, {Name: "FROM_ENVFROM", Value: "x"}, {Name: "SVC_SERVICE_HOST", Value: "10.0.0.9"},
	}
	ec := envContext{
		PodIPs:      []string{"10.213.7.5"},
		HostIPs:     []string{"127.0.0.1"},
		Allocatable: v1.ResourceList{v1.ResourceMemory: resource.MustParse("4Gi")},
	}
	env, err := resolveEnv(&orig, resolved, ec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"MY_POD_IP": "10.213.7.5", "ADDR": "10.213.7.5:6379", "CPU": "2", "MEM_MI": "4096",
		"REQ_CPU_M": "250", "FROM_CM": "cm-value", "HOST": "127.0.0.1", "FROM_ENVFROM": "x",
	}
	for k, v := range want {
		if got, _ := env.lookup(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := env.lookup("OPT_MISSING"); ok {
		t.Errorf("a skipped optional reference must stay unset")
	}
	list := strings.Join(env.list(), " ")
	if !strings.HasPrefix(list, "FROM_ENVFROM=x SVC_SERVICE_HOST=10.0.0.9 MY_POD_IP=") {
		t.Errorf("order: envFrom/service vars first, then the declared ones: %s", list)
	}
}

func TestResourceFieldCPUDefaultsToAllocatable(t *testing.T) {
	c := v1.Container{Name: "c"}
	ec := envContext{Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("3")}}
	v, err := resourceFieldValue(&v1.ResourceFieldSelector{Resource: "limits.cpu"}, &c, ec)
	if err != nil || v != "3" {
		t.Fatalf("got %q %v", v, err)
	}
	if _, err := resourceFieldValue(&v1.ResourceFieldSelector{Resource: "limits.cpu", ContainerName: "nope"}, &c, ec); err == nil {
		t.Fatalf("an unknown container must fail")
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := map[string]string{
		"$(A)-$(B)": "1-two", "$(C)": "$(C)", "$$(A)": "$(A)", "x$": "x$", "$(A": "$(A", "$A": "$A", "a$$b": "a$b",
	}
	for in, want := range cases {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAddNodeEnvAndArgv(t *testing.T) {
	env := newOrderedEnv()
	env.set("X", "y")
	addNodeEnv(env, "/venv/bin", "head-0")
	for k, v := range map[string]string{
		"KUBERNETES_SERVICE_HOST": "kubernetes.default.svc", "KUBERNETES_SERVICE_PORT": "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443", "HOSTNAME": "head-0", "HOME": "/root",
		"PATH": "/venv/bin:" + debianPath,
	} {
		if got, _ := env.lookup(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	argv, err := containerArgv(&v1.Container{Command: []string{"/bin/bash", "-lc"}, Args: []string{"echo $(X) $(HOME)"}}, env)
	if err != nil || strings.Join(argv, "|") != "/bin/bash|-lc|echo y /root" {
		t.Errorf("argv %q %v", argv, err)
	}
	if _, err := containerArgv(&v1.Container{Name: "c"}, env); err == nil {
		t.Errorf("no command and no args must fail")
	}
}
