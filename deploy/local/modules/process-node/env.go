// Container environment. virtual-kubelet's own env resolution is switched
// off (SkipDownwardAPIResolution): it refuses status.podIP fieldRefs and
// drops resourceFieldRefs. resolveEnv resolves everything from the original
// spec like kubelet, and addNodeEnv adds the process node's own variables.
package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// debianPath is the standard PATH of Debian images (and root's login shell).
const debianPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// envContext is what env re-resolution needs besides the two env lists.
type envContext struct {
	PodIPs      []string
	HostIPs     []string
	Pod         *v1.Pod // the original pod (for resourceFieldRef of other containers)
	Allocatable v1.ResourceList
}

// orderedEnv keeps KEY=VALUE pairs in first-definition order.
type orderedEnv struct {
	keys []string
	vals map[string]string
}

func newOrderedEnv() *orderedEnv { return &orderedEnv{vals: map[string]string{}} }

func (e *orderedEnv) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *orderedEnv) setDefault(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.set(k, v)
	}
}

func (e *orderedEnv) lookup(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }

func (e *orderedEnv) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// envSource reads the ConfigMaps and Secrets env refers to.
type envSource interface {
	configMap(ns, name string) (map[string]string, error)
	secret(ns, name string) (map[string][]byte, error)
}

// resolveEnv computes a container's environment like kubelet: envFrom
// sources in order (with prefix), then env in order, each plain value
// expanded against what is defined so far; valueFrom from ConfigMaps,
// Secrets, fieldRefs (status.podIP/hostIP from ec) and resourceFieldRefs.
// Missing optional references are skipped; missing mandatory ones fail.
// Service-link variables are not added: ClusterIPs are not routable here
// (names resolve through /etc/hosts instead).
func resolveEnv(c *v1.Container, pod *v1.Pod, ec envContext, src envSource) (*orderedEnv, error) {
	env := newOrderedEnv()
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			data, err := src.configMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("envFrom configmap %q: %w", from.ConfigMapRef.Name, err)
			}
			for _, k := range sortedKeys(data) {
				env.set(from.Prefix+k, data[k])
			}
		case from.SecretRef != nil:
			data, err := src.secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("envFrom secret %q: %w", from.SecretRef.Name, err)
			}
			keys := make([]string, 0, len(data))
			for k := range data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				env.set(from.Prefix+k, string(data[k]))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env.set(e.Name, expandVars(e.Value, env.lookup))
			continue
		}
		v, ok, err := envValueFrom(e.ValueFrom, c, pod, ec, src)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			env.set(e.Name, v)
		}
	}
	return env, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// envValueFrom resolves one valueFrom; ok=false: an optional reference
// that is missing.
func envValueFrom(vf *v1.EnvVarSource, c *v1.Container, pod *v1.Pod, ec envContext, src envSource) (string, bool, error) {
	switch {
	case vf.FieldRef != nil:
		if isStatusField(vf.FieldRef.FieldPath) {
			return statusFieldValue(vf.FieldRef.FieldPath, ec), true, nil
		}
		v, err := fieldPathValue(pod, vf.FieldRef.FieldPath, fieldInfo{})
		return v, err == nil, err
	case vf.ResourceFieldRef != nil:
		v, err := resourceFieldValue(vf.ResourceFieldRef, c, ec)
		return v, err == nil, err
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		data, err := src.configMap(pod.Namespace, ref.Name)
		if err != nil {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q: %w", ref.Name, err)
		}
		v, found := data[ref.Key]
		if !found && !optional {
			return "", false, fmt.Errorf("configmap %q has no key %q", ref.Name, ref.Key)
		}
		return v, found, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		data, err := src.secret(pod.Namespace, ref.Name)
		if err != nil {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q: %w", ref.Name, err)
		}
		v, found := data[ref.Key]
		if !found && !optional {
			return "", false, fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
		}
		return string(v), found, nil
	}
	return "", false, nil
}

func isStatusField(path string) bool {
	switch path {
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return true
	}
	return false
}

func statusFieldValue(path string, ec envContext) string {
	first := func(l []string) string {
		if len(l) == 0 {
			return ""
		}
		return l[0]
	}
	switch path {
	case "status.podIP":
		return first(ec.PodIPs)
	case "status.podIPs":
		return strings.Join(ec.PodIPs, ",")
	case "status.hostIP":
		return first(ec.HostIPs)
	case "status.hostIPs":
		return strings.Join(ec.HostIPs, ",")
	}
	return ""
}

// resourceFieldValue computes a resourceFieldRef like kubelet: limits fall
// back to the node's allocatable when unset; cpu is rounded up to whole
// units of the divisor, memory and storage too.
func resourceFieldValue(ref *v1.ResourceFieldSelector, self *v1.Container, ec envContext) (string, error) {
	c := self
	if ref.ContainerName != "" && ref.ContainerName != self.Name {
		c = findContainer(ec.Pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef: unsupported resource %q", ref.Resource)
	}
	rn := v1.ResourceName(name)
	var q resource.Quantity
	if kind == "limits" {
		if v, ok := c.Resources.Limits[rn]; ok {
			q = v
		} else if v, ok := ec.Allocatable[rn]; ok {
			q = v
		}
	} else if v, ok := c.Resources.Requests[rn]; ok {
		q = v
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if rn == v1.ResourceCPU {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	if pod == nil {
		return nil
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// addNodeEnv adds the process node's variables: the API server through the
// gateway forwarder, HOSTNAME, PATH (image bin first unless the container
// sets PATH), HOME, and the gRPC resolver that honours /etc/hosts.
func addNodeEnv(env *orderedEnv, imageBin, hostname string) {
	env.set("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
	env.set("KUBERNETES_SERVICE_PORT", "443")
	env.set("KUBERNETES_SERVICE_PORT_HTTPS", "443")
	env.set("KUBERNETES_PORT", "tcp://kubernetes.default.svc:443")
	env.set("KUBERNETES_PORT_443_TCP", "tcp://kubernetes.default.svc:443")
	env.set("HOSTNAME", hostname)
	path := debianPath
	if imageBin != "" {
		path = imageBin + ":" + debianPath
	}
	env.setDefault("PATH", path)
	env.setDefault("HOME", "/root")
	env.setDefault("GRPC_DNS_RESOLVER", "native")
	// Ray reports usage statistics to the internet by default; pods here
	// send traffic only to the bridge and loopback.
	env.setDefault("RAY_USAGE_STATS_ENABLED", "0")
}

// expandVars replaces $(NAME) with lookup(NAME) when defined; "$$" is a
// literal '$'; an undefined or unterminated reference is kept as written.
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// containerArgv is command+args with $(VAR) expanded. Images here carry no
// entrypoint: args alone run as the command, neither is an error.
func containerArgv(c *v1.Container, env *orderedEnv) ([]string, error) {
	var argv []string
	for _, s := range c.Command {
		argv = append(argv, expandVars(s, env.lookup))
	}
	for _, s := range c.Args {
		argv = append(argv, expandVars(s, env.lookup))
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("container %q has no command or args, and images on the process node have no default entrypoint", c.Name)
	}
	return argv, nil
}
