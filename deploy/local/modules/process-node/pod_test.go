// Tests of a container's process spec: argv, env, and the mount order
// (image bin, volumes, /etc/hostname, pod tmp over /tmp last).
package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProcessSpecMounts(t *testing.T) {
	dir := t.TempDir()
	cfg := &config{
		images: []imageRule{{Pattern: "rayproject/ray*", Dir: "/venvs/ray"}},
		cpu:    resource.MustParse("2"), memory: resource.MustParse("1Gi"), pods: resource.MustParse("10"),
	}
	c := v1.Container{
		Name: "ray-head", Image: "rayproject/ray:2.6.0",
		Command: []string{"/bin/bash", "-lc", "--"}, Args: []string{"ray start --head --block"},
		VolumeMounts: []v1.VolumeMount{
			{Name: "logs", MountPath: "/tmp/ray"},
			{Name: "cfg", MountPath: "/etc/ray/conf"},
			{Name: "shm", MountPath: "/dev/shm"},
			{Name: "cfg", MountPath: "/etc/ray", ReadOnly: true},
		},
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "head-0", Namespace: "ray"},
		Spec: v1.PodSpec{Containers: []v1.Container{c}, Volumes: []v1.Volume{
			{Name: "logs", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
			{Name: "shm", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}},
			{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "x"}}}},
		}},
	}
	r := &podRuntime{p: &provider{cfg: cfg}, dir: dir, pod: pod, orig: pod, vols: newVolumeSet(filepath.Join(dir, "volumes"), nil)}
	ctr := newCtr(&pod.Spec.Containers[0], &pod.Spec.Containers[0], false)
	spec, reason, err := r.processSpec(ctr)
	if err != nil {
		t.Fatalf("%s: %v", reason, err)
	}
	var got []string
	for _, m := range spec.Mounts {
		got = append(got, fmt.Sprintf("%s->%s ro=%v", strings.TrimPrefix(m.Source, dir), strings.TrimPrefix(m.Target, dir), m.ReadOnly))
	}
	want := []string{
		"/venvs/ray/bin->/usr/local/bin ro=true",
		"/volumes/shm->/dev/shm ro=false", // same depth as /etc/ray: spec order
		"/volumes/cfg->/etc/ray ro=true",
		"/volumes/cfg->/etc/ray/conf ro=true",
		"/volumes/logs->/tmp/ray ro=false", // bound inside the pod's tmp, which is bound over /tmp after
		"/hostname->/etc/hostname ro=true",
		"/tmp->/tmp ro=false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mounts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(spec.Argv, " ") != "/bin/bash -lc -- ray start --head --block" || spec.Hostname != "head-0" {
		t.Errorf("argv %q hostname %q", spec.Argv, spec.Hostname)
	}
	env := strings.Join(spec.Env, "\n")
	for _, want := range []string{"PATH=/venvs/ray/bin:" + debianPath, "HOSTNAME=head-0", "KUBERNETES_SERVICE_HOST=kubernetes.default.svc"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
}

func TestProcessSpecUnknownImage(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "nginx", Command: []string{"x"}}}}}
	r := &podRuntime{p: &provider{cfg: &config{}}, dir: t.TempDir(), pod: pod, orig: pod, vols: newVolumeSet(t.TempDir(), nil)}
	_, reason, err := r.processSpec(newCtr(&pod.Spec.Containers[0], &pod.Spec.Containers[0], false))
	if err == nil || reason != "ErrImageNeverPull" || !strings.Contains(err.Error(), `"nginx"`) {
		t.Errorf("got %q %v", reason, err)
	}
}
