// Tests of env re-resolution, $(VAR) expansion and argv building.
package main

import (
	"errors"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type fakeSource struct {
	cms     map[string]map[string]string
	secrets map[string]map[string][]byte
}

func (f fakeSource) configMap(_, name string) (map[string]string, error) {
	if d, ok := f.cms[name]; ok {
		return d, nil
	}
	return nil, errors.New("not found")
}

func (f fakeSource) secret(_, name string) (map[string][]byte, error) {
	if d, ok := f.secrets[name]; ok {
		return d, nil
	}
	return nil, errors.New("not found")
}

func TestResolveEnvLikeKubelet(t *testing.T) {
	yes := true
	c := v1.Container{
		Name: "ray-head",
		EnvFrom: []v1.EnvFromSource{
			{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}},
			{Prefix: "S_", SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}}},
			{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Optional: &yes}},
		},
		Env: []v1.EnvVar{
			{Name: "MY_POD_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "ADDR", Value: "$(MY_POD_IP):6379"},
			{Name: "CPU", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "MEM_MI", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "REQ_CPU_M", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "FROM_CM", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "k"}}},
			{Name: "OPT_MISSING", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &yes}}},
			{Name: "HOST", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "NS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "K", Value: "override"},
		},
		Resources: v1.ResourceRequirements{
			Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("1500m")},
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
		},
	}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ray"}, Spec: v1.PodSpec{Containers: []v1.Container{c}}}
	src := fakeSource{
		cms:     map[string]map[string]string{"cm": {"k": "cm-value"}},
		secrets: map[string]map[string][]byte{"sec": {"pw": []byte("s3")}},
	}
	ec := envContext{
		PodIPs:      []string{"10.213.7.5"},
		HostIPs:     []string{"127.0.0.1"},
		Pod:         pod,
		Allocatable: v1.ResourceList{v1.ResourceMemory: resource.MustParse("4Gi")},
	}
	env, err := resolveEnv(&c, pod, ec, src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"MY_POD_IP": "10.213.7.5", "ADDR": "10.213.7.5:6379", "CPU": "2", "MEM_MI": "4096",
		"REQ_CPU_M": "250", "FROM_CM": "cm-value", "HOST": "127.0.0.1", "NS": "ray", "S_pw": "s3", "K": "override",
	}
	for k, v := range want {
		if got, _ := env.lookup(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := env.lookup("OPT_MISSING"); ok {
		t.Errorf("a missing optional reference must stay unset")
	}
	if list := strings.Join(env.list(), " "); !strings.HasPrefix(list, "k=cm-value S_pw=s3 MY_POD_IP=") {
		t.Errorf("order: envFrom first, then env: %s", list)
	}
	c.Env = append(c.Env, v1.EnvVar{Name: "MUST", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "absent"}}})
	if _, err := resolveEnv(&c, pod, ec, src); err == nil {
		t.Errorf("a missing mandatory key must fail")
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
