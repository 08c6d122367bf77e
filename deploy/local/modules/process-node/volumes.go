// Pod volumes, materialised under <pod dir>/volumes/<name>: emptyDir,
// configMap, secret, downwardAPI, projected (serviceAccountToken through the
// TokenRequest API, refreshed at 80% of its lifetime; configMap; secret;
// downwardAPI) and hostPath (the host path itself). Files are replaced by
// rename inside the volume directory, which is what gets bind-mounted, so
// running containers see updates. Any other volume type is refused.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// errUnsupportedVolume marks a pod that can never start here.
var errUnsupportedVolume = errors.New("unsupported volume")

// checkVolumes refuses volume types the process node cannot provide.
func checkVolumes(pod *v1.Pod) error {
	for i, vol := range pod.Spec.Volumes {
		s := vol.VolumeSource
		ok := s.EmptyDir != nil || s.ConfigMap != nil || s.Secret != nil || s.DownwardAPI != nil || s.HostPath != nil
		if s.Projected != nil {
			ok = true
			for j, src := range s.Projected.Sources {
				if src.ServiceAccountToken == nil && src.ConfigMap == nil && src.Secret == nil && src.DownwardAPI == nil {
					return fmt.Errorf("%w: spec.volumes[%d].projected.sources[%d] (volume %q): only serviceAccountToken, configMap, secret and downwardAPI sources are supported by the process node", errUnsupportedVolume, i, j, vol.Name)
				}
			}
		}
		if !ok {
			return fmt.Errorf("%w: spec.volumes[%d] (volume %q): %s volumes are not supported by the process node (supported: emptyDir, configMap, secret, projected, downwardAPI, hostPath)", errUnsupportedVolume, i, vol.Name, volumeKind(s))
		}
	}
	return nil
}

func volumeKind(s v1.VolumeSource) string {
	switch {
	case s.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case s.Ephemeral != nil:
		return "ephemeral"
	case s.CSI != nil:
		return "csi"
	case s.NFS != nil:
		return "nfs"
	case s.Image != nil:
		return "image"
	}
	return "this type of"
}

// readOnlyVolume: kubelet always mounts these read-only.
func readOnlyVolume(s v1.VolumeSource) bool {
	return s.ConfigMap != nil || s.Secret != nil || s.DownwardAPI != nil || s.Projected != nil
}

// fileData is one file of a volume.
type fileData struct {
	data []byte
	mode os.FileMode
}

// volumeSet materialises the volumes of one pod.
type volumeSet struct {
	dir    string
	client kubernetes.Interface
	mu     sync.Mutex
	tokens map[string]cachedToken     // volume/path -> token
	files  map[string]map[string]bool // volume -> files written last time
}

type cachedToken struct {
	token     string
	refreshAt time.Time
}

func newVolumeSet(dir string, client kubernetes.Interface) *volumeSet {
	return &volumeSet{dir: dir, client: client, tokens: map[string]cachedToken{}, files: map[string]map[string]bool{}}
}

// source is the host path a volume is mounted from.
func (vs *volumeSet) source(pod *v1.Pod, name string) (string, v1.VolumeSource, bool) {
	for _, vol := range pod.Spec.Volumes {
		if vol.Name == name {
			if vol.HostPath != nil {
				return vol.HostPath.Path, vol.VolumeSource, true
			}
			return filepath.Join(vs.dir, name), vol.VolumeSource, true
		}
	}
	return "", v1.VolumeSource{}, false
}

// fieldInfo carries the runtime values downward API files need.
type fieldInfo struct {
	podIP, hostIP string
	allocatable   v1.ResourceList
}

// setup creates or refreshes every volume of pod. Errors are transient
// (a missing ConfigMap may appear later) unless errUnsupportedVolume.
func (vs *volumeSet) setup(ctx context.Context, pod *v1.Pod, fi fieldInfo) error {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if err := checkVolumes(pod); err != nil {
		return err
	}
	for _, vol := range pod.Spec.Volumes {
		dir := filepath.Join(vs.dir, vol.Name)
		s := vol.VolumeSource
		var files map[string]fileData
		var err error
		switch {
		case s.HostPath != nil:
			err = prepareHostPath(s.HostPath)
			if err == nil {
				continue
			}
		case s.EmptyDir != nil:
			err = os.MkdirAll(dir, 0o777)
			if err == nil {
				err = os.Chmod(dir, 0o777)
			}
			if err == nil {
				continue
			}
		case s.ConfigMap != nil:
			files, err = vs.configMapFiles(ctx, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, modeOr(s.ConfigMap.DefaultMode, nil))
		case s.Secret != nil:
			files, err = vs.secretFiles(ctx, pod.Namespace, s.Secret.SecretName, s.Secret.Items, s.Secret.Optional, modeOr(s.Secret.DefaultMode, nil))
		case s.DownwardAPI != nil:
			files, err = downwardFiles(pod, s.DownwardAPI.Items, modeOr(s.DownwardAPI.DefaultMode, nil), fi)
		case s.Projected != nil:
			files, err = vs.projectedFiles(ctx, pod, vol.Name, s.Projected, fi)
		}
		if err != nil {
			return fmt.Errorf("volume %q: %w", vol.Name, err)
		}
		if err := vs.writeVolume(vol.Name, dir, files); err != nil {
			return fmt.Errorf("volume %q: %w", vol.Name, err)
		}
	}
	return nil
}

func prepareHostPath(h *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	st, err := os.Stat(h.Path)
	switch t {
	case v1.HostPathDirectoryOrCreate:
		if err != nil {
			return os.MkdirAll(h.Path, 0o755)
		}
	case v1.HostPathFileOrCreate:
		if err != nil {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	case v1.HostPathDirectory:
		if err != nil || !st.IsDir() {
			return fmt.Errorf("hostPath %s is not a directory", h.Path)
		}
	case v1.HostPathFile:
		if err != nil || st.IsDir() {
			return fmt.Errorf("hostPath %s is not a file", h.Path)
		}
	case v1.HostPathUnset:
		if err != nil {
			return os.MkdirAll(h.Path, 0o755)
		}
	default:
		if err != nil {
			return fmt.Errorf("hostPath %s: %w", h.Path, err)
		}
	}
	return nil
}

func modeOr(m *int32, fallback *int32) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & os.ModePerm
	}
	if fallback != nil {
		return os.FileMode(*fallback) & os.ModePerm
	}
	return 0o644
}

// keyFiles selects the files of a ConfigMap/Secret's data by items.
func keyFiles(data map[string][]byte, items []v1.KeyToPath, optional bool, mode os.FileMode, what string) (map[string]fileData, error) {
	out := map[string]fileData{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = fileData{data: v, mode: mode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		out[it.Path] = fileData{data: v, mode: modeOr(it.Mode, ptrMode(mode))}
	}
	return out, nil
}

func ptrMode(m os.FileMode) *int32 { v := int32(m); return &v }

func (vs *volumeSet) configMapFiles(ctx context.Context, ns, name string, items []v1.KeyToPath, optional *bool, mode os.FileMode) (map[string]fileData, error) {
	opt := optional != nil && *optional
	cm, err := vs.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && opt {
		return map[string]fileData{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, opt, mode, fmt.Sprintf("configmap %q", name))
}

func (vs *volumeSet) secretFiles(ctx context.Context, ns, name string, items []v1.KeyToPath, optional *bool, mode os.FileMode) (map[string]fileData, error) {
	opt := optional != nil && *optional
	s, err := vs.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && opt {
		return map[string]fileData{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return keyFiles(s.Data, items, opt, mode, fmt.Sprintf("secret %q", name))
}

func (vs *volumeSet) projectedFiles(ctx context.Context, pod *v1.Pod, volName string, p *v1.ProjectedVolumeSource, fi fieldInfo) (map[string]fileData, error) {
	mode := modeOr(p.DefaultMode, nil)
	out := map[string]fileData{}
	merge := func(m map[string]fileData) {
		for k, v := range m {
			out[k] = v
		}
	}
	for _, src := range p.Sources {
		switch {
		case src.ServiceAccountToken != nil:
			tok, err := vs.token(ctx, pod, volName, src.ServiceAccountToken)
			if err != nil {
				return nil, err
			}
			out[src.ServiceAccountToken.Path] = fileData{data: []byte(tok), mode: mode}
		case src.ConfigMap != nil:
			m, err := vs.configMapFiles(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode)
			if err != nil {
				return nil, err
			}
			merge(m)
		case src.Secret != nil:
			m, err := vs.secretFiles(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, mode)
			if err != nil {
				return nil, err
			}
			merge(m)
		case src.DownwardAPI != nil:
			m, err := downwardFiles(pod, src.DownwardAPI.Items, mode, fi)
			if err != nil {
				return nil, err
			}
			merge(m)
		}
	}
	return out, nil
}

// token returns a bound token for the pod's service account, asking for a
// new one once 80% of the old one's lifetime has passed.
func (vs *volumeSet) token(ctx context.Context, pod *v1.Pod, volName string, src *v1.ServiceAccountTokenProjection) (string, error) {
	key := volName + "/" + src.Path
	if c, ok := vs.tokens[key]; ok && time.Now().Before(c.refreshAt) {
		return c.token, nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	now := time.Now()
	resp, err := vs.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %q: %w", sa, err)
	}
	life := resp.Status.ExpirationTimestamp.Sub(now)
	vs.tokens[key] = cachedToken{token: resp.Status.Token, refreshAt: now.Add(life * 8 / 10)}
	return resp.Status.Token, nil
}

// writeVolume writes files into dir (by rename) and removes the files it
// wrote last time that are gone now.
func (vs *volumeSet) writeVolume(name, dir string, files map[string]fileData) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	written := map[string]bool{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		clean := filepath.Clean("/" + p)[1:]
		if clean == "" || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("bad file path %q", p)
		}
		full := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		old, err := os.ReadFile(full)
		if err == nil && string(old) == string(files[p].data) {
			_ = os.Chmod(full, files[p].mode)
			written[clean] = true
			continue
		}
		tmp := filepath.Join(filepath.Dir(full), ".tmp-"+filepath.Base(full))
		if err := os.WriteFile(tmp, files[p].data, files[p].mode); err != nil {
			return err
		}
		if err := os.Chmod(tmp, files[p].mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, full); err != nil {
			return err
		}
		written[clean] = true
	}
	for p := range vs.files[name] {
		if !written[p] {
			_ = os.Remove(filepath.Join(dir, p))
		}
	}
	vs.files[name] = written
	return nil
}

// downwardFiles renders downwardAPI items.
func downwardFiles(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, mode os.FileMode, fi fieldInfo) (map[string]fileData, error) {
	out := map[string]fileData{}
	for _, it := range items {
		var val string
		switch {
		case it.FieldRef != nil:
			v, err := fieldPathValue(pod, it.FieldRef.FieldPath, fi)
			if err != nil {
				return nil, err
			}
			val = v
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("downwardAPI %s: no container %q", it.Path, it.ResourceFieldRef.ContainerName)
			}
			v, err := resourceFieldValue(it.ResourceFieldRef, c, envContext{Pod: pod, Allocatable: fi.allocatable})
			if err != nil {
				return nil, err
			}
			val = v
		}
		out[it.Path] = fileData{data: []byte(val), mode: modeOr(it.Mode, ptrMode(mode))}
	}
	return out, nil
}

// fieldPathValue is a downward API field of the pod.
func fieldPathValue(pod *v1.Pod, path string, fi fieldInfo) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return fi.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return fi.hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}
