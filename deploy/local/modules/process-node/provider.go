// The virtual-kubelet provider of the process node: pod lifecycle calls,
// asynchronous status (node.PodNotifier), logs, exec, port-forward, and the
// rewriting of every pod's /etc/hosts when Services or EndpointSlices
// change (debounced).
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"rayop.local/process-node/sandbox"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/record"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"
)

// provider implements nodeutil.Provider and node.PodNotifier.
type provider struct {
	cfg       *config
	client    kubernetes.Interface
	net       *sandbox.Network
	recorder  record.EventRecorder
	podLister corev1listers.PodLister
	svcLister corev1listers.ServiceLister
	epsLister discoverylisters.EndpointSliceLister
	started   time.Time

	mu   sync.Mutex
	pods map[string]*podRuntime

	notifyMu sync.Mutex
	notifyFn func(*v1.Pod)

	hostsKick chan struct{}
}

func newProvider(cfg *config, client kubernetes.Interface, network *sandbox.Network, recorder record.EventRecorder) *provider {
	return &provider{
		cfg: cfg, client: client, net: network, recorder: recorder, started: time.Now(),
		pods: map[string]*podRuntime{}, hostsKick: make(chan struct{}, 1),
	}
}

// NotifyPods registers virtual-kubelet's status callback.
func (p *provider) NotifyPods(_ context.Context, cb func(*v1.Pod)) {
	p.notifyMu.Lock()
	p.notifyFn = cb
	p.notifyMu.Unlock()
}

func (p *provider) notify(pod *v1.Pod) {
	p.notifyMu.Lock()
	cb := p.notifyFn
	p.notifyMu.Unlock()
	if cb != nil {
		cb(pod)
	}
}

func (p *provider) lookup(ns, name string) *podRuntime {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[podKey(ns, name)]
}

func (p *provider) forget(r *podRuntime) {
	p.mu.Lock()
	if p.pods[r.key] == r {
		delete(p.pods, r.key)
	}
	p.mu.Unlock()
}

// original is the pod as in the API (env not resolved), or pod itself.
func (p *provider) original(pod *v1.Pod) *v1.Pod {
	if p.podLister != nil {
		if o, err := p.podLister.Pods(pod.Namespace).Get(pod.Name); err == nil && o.UID == pod.UID {
			return o.DeepCopy()
		}
	}
	return pod.DeepCopy()
}

// shortID is a stable short id of the pod for sandbox names.
func shortID(pod *v1.Pod) string {
	id := strings.ReplaceAll(string(pod.UID), "-", "")
	if len(id) > 8 {
		id = id[:8]
	}
	if id == "" {
		id = "pod"
	}
	return id
}

// CreatePod starts the pod: sandbox now, the rest in the background.
func (p *provider) CreatePod(ctx context.Context, pod *v1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	_, exists := p.pods[key]
	p.mu.Unlock()
	if exists {
		return nil
	}
	orig := p.original(pod)
	rctx, cancel := context.WithCancel(context.Background())
	r := &podRuntime{
		p: p, key: key, ctx: rctx, cancel: cancel,
		dir:       filepath.Join(p.cfg.stateDir, "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
		dirty:     make(chan struct{}, 1),
		done:      make(chan struct{}),
		pod:       pod.DeepCopy(),
		orig:      orig,
		startTime: metav1.Now(),
		conds:     conditionSet{},
	}
	r.vols = newVolumeSet(filepath.Join(r.dir, "volumes"), p.client)
	for i := range r.pod.Spec.InitContainers {
		r.inits = append(r.inits, newCtr(&r.pod.Spec.InitContainers[i], origContainer(orig, r.pod.Spec.InitContainers[i].Name), true))
	}
	for i := range r.pod.Spec.Containers {
		r.ctrs = append(r.ctrs, newCtr(&r.pod.Spec.Containers[i], origContainer(orig, r.pod.Spec.Containers[i].Name), false))
	}
	if len(r.inits) == 0 {
		r.initDone = true
		for _, c := range r.ctrs {
			c.st.State.Waiting.Reason = "ContainerCreating"
		}
	}

	if err := checkVolumes(orig); err != nil {
		// Never startable here: say so in the status and an Event.
		r.reason = "UnsupportedVolume"
		r.message = err.Error()
		for _, c := range append(append([]*ctrRuntime{}, r.inits...), r.ctrs...) {
			c.st.State.Waiting = &v1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		}
		p.store(r)
		p.recorder.Eventf(pod, v1.EventTypeWarning, "FailedMount", "%s", err.Error())
		go r.notifier()
		r.changed()
		return nil
	}

	if err := os.MkdirAll(filepath.Join(r.dir, "tmp"), 0o755); err != nil {
		return fmt.Errorf("pod directory: %w", err)
	}
	if err := os.Chmod(filepath.Join(r.dir, "tmp"), 0o1777); err != nil {
		return fmt.Errorf("pod directory: %w", err)
	}
	sb, err := p.net.CreateSandbox(shortID(pod), r.dir)
	if err != nil {
		_ = os.RemoveAll(r.dir)
		return fmt.Errorf("creating the pod sandbox: %w", err)
	}
	r.sb = sb
	p.writeHosts(r)
	p.store(r)
	log.G(ctx).Infof("pod %s: sandbox %s, IP %s", key, sb.Namespace, sb.IP)
	go r.notifier()
	go r.run()
	r.changed()
	p.kick() // other pods may resolve this one now
	return nil
}

func origContainer(orig *v1.Pod, name string) *v1.Container {
	if c := findContainer(orig, name); c != nil {
		return c
	}
	return &v1.Container{Name: name}
}

func (p *provider) store(r *podRuntime) {
	p.mu.Lock()
	p.pods[r.key] = r
	p.mu.Unlock()
}

// UpdatePod takes the new labels/annotations/spec copy (no restarts).
func (p *provider) UpdatePod(_ context.Context, pod *v1.Pod) error {
	r := p.lookup(pod.Namespace, pod.Name)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	orig := p.original(pod)
	r.mu.Lock()
	r.pod.ObjectMeta = *pod.ObjectMeta.DeepCopy()
	r.pod.Status.Conditions = pod.Status.Conditions
	r.orig = orig
	r.mu.Unlock()
	r.changed()
	return nil
}

// DeletePod starts the pod's termination and returns at once; the
// terminal status follows through the notifier.
func (p *provider) DeletePod(_ context.Context, pod *v1.Pod) error {
	r := p.lookup(pod.Namespace, pod.Name)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	go r.terminate(gracePeriod(pod))
	return nil
}

func gracePeriod(pod *v1.Pod) time.Duration {
	if pod.DeletionGracePeriodSeconds != nil {
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// GetPod returns the pod with its current status.
func (p *provider) GetPod(_ context.Context, ns, name string) (*v1.Pod, error) {
	r := p.lookup(ns, name)
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	return r.snapshot(), nil
}

// GetPodStatus returns the pod's current status.
func (p *provider) GetPodStatus(ctx context.Context, ns, name string) (*v1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod of the node.
func (p *provider) GetPods(context.Context) ([]*v1.Pod, error) {
	p.mu.Lock()
	rs := make([]*podRuntime, 0, len(p.pods))
	for _, r := range p.pods {
		rs = append(rs, r)
	}
	p.mu.Unlock()
	out := make([]*v1.Pod, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.snapshot())
	}
	return out, nil
}

// shutdown stops every pod (grace capped at maxGrace) in parallel.
func (p *provider) shutdown(maxGrace time.Duration) {
	p.mu.Lock()
	rs := make([]*podRuntime, 0, len(p.pods))
	for _, r := range p.pods {
		rs = append(rs, r)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.mu.Lock()
			g := gracePeriod(r.pod)
			// Like kubelet's graceful node shutdown.
			r.reason = "Terminated"
			r.message = "Pod was terminated because the process node stopped."
			r.mu.Unlock()
			r.terminate(min(g, maxGrace))
		}()
	}
	wg.Wait()
}

func (p *provider) container(ns, name, container string) (*podRuntime, *ctrRuntime, error) {
	r := p.lookup(ns, name)
	if r == nil {
		return nil, nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	for _, c := range append(append([]*ctrRuntime{}, r.inits...), r.ctrs...) {
		if c.spec.Name == container {
			return r, c, nil
		}
	}
	return nil, nil, errdefs.NotFoundf("container %q is not in pod %s/%s", container, ns, name)
}

// GetContainerLogs serves `kubectl logs` from the run's log file.
func (p *provider) GetContainerLogs(ctx context.Context, ns, name, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	r, c, err := p.container(ns, name, container)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	run, everRan := c.logRun, c.st.ContainerID != "" || c.runDone
	r.mu.Unlock()
	if opts.Previous {
		run--
	}
	path := r.logPath(container, run)
	if !everRan || run < 0 {
		if opts.Previous {
			return nil, errdefs.InvalidInputf("previous terminated container %q in pod %q not found", container, name)
		}
		return nil, errdefs.InvalidInputf("container %q in pod %q is waiting to start", container, name)
	}
	q := logQuery{Tail: -1, LimitBytes: opts.LimitBytes, Timestamps: opts.Timestamps, Since: opts.SinceTime}
	if opts.Tail > 0 {
		q.Tail = opts.Tail
	}
	if opts.SinceSeconds > 0 {
		q.Since = time.Now().Add(-time.Duration(opts.SinceSeconds) * time.Second)
	}
	if opts.Follow && !opts.Previous {
		finished := func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return c.logRun != run || c.runDone
		}
		return followLog(ctx, path, q, finished), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errdefs.NotFoundf("logs of container %q: %v", container, err)
	}
	lines, _ := parseLogRecords(data)
	return io.NopCloser(bytes.NewReader(renderLogLines(lines, q))), nil
}

// RunInContainer serves `kubectl exec` with the container's env and
// mounts. A TTY is not allocated (stderr then goes to stdout).
func (p *provider) RunInContainer(ctx context.Context, ns, name, container string, cmd []string, attach api.AttachIO) error {
	r, c, err := p.container(ns, name, container)
	if err != nil {
		return err
	}
	r.mu.Lock()
	running := c.proc != nil
	spec := c.base
	sb := r.sb
	r.mu.Unlock()
	if !running || sb == nil {
		return errdefs.InvalidInputf("container %q in pod %q is not running", container, name)
	}
	spec.Argv = cmd
	spec.Stdin, spec.Stdout, spec.Stderr = nil, nil, nil
	if in := attach.Stdin(); in != nil {
		spec.Stdin = in
	}
	if out := attach.Stdout(); out != nil {
		spec.Stdout = out
	}
	if e := attach.Stderr(); e != nil {
		spec.Stderr = e
	} else if attach.TTY() && spec.Stdout != nil {
		spec.Stderr = spec.Stdout
	}
	code, err := sb.Run(ctx, spec)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// AttachToContainer is not supported (containers have no attachable stdin).
func (p *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("attach is not supported by the process node; use exec or logs")
}

// PortForward connects stream to podIP:port.
func (p *provider) PortForward(ctx context.Context, ns, name string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	r := p.lookup(ns, name)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	r.mu.Lock()
	sb := r.sb
	r.mu.Unlock()
	if sb == nil {
		return errdefs.InvalidInputf("pod %s/%s has no network", ns, name)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(sb.IP.String(), strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// GetStatsSummary reports the node and its pods without usage figures.
func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.cfg.nodeName, StartTime: metav1.NewTime(p.started)}}
	pods, _ := p.GetPods(context.Background())
	for _, pod := range pods {
		s.Pods = append(s.Pods, statsv1alpha1.PodStats{
			PodRef:    statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
			StartTime: metav1.NewTime(p.started),
		})
	}
	return s, nil
}

// GetMetricsResource has no metrics to report.
func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

// configMap reads a ConfigMap's data (env references).
func (p *provider) configMap(ns, name string) (map[string]string, error) {
	cm, err := p.client.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range cm.BinaryData {
		out[k] = string(v)
	}
	for k, v := range cm.Data {
		out[k] = v
	}
	return out, nil
}

// secret reads a Secret's data (env references).
func (p *provider) secret(ns, name string) (map[string][]byte, error) {
	s, err := p.client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}

// kick asks for a (debounced) rewrite of every pod's hosts file.
func (p *provider) kick() {
	select {
	case p.hostsKick <- struct{}{}:
	default:
	}
}

// hostsLoop rewrites hosts files 200 ms after the last change burst began.
func (p *provider) hostsLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.hostsKick:
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return
		}
		p.mu.Lock()
		rs := make([]*podRuntime, 0, len(p.pods))
		for _, r := range p.pods {
			rs = append(rs, r)
		}
		p.mu.Unlock()
		for _, r := range rs {
			p.writeHosts(r)
		}
	}
}

// writeHosts rewrites r's hosts file when its content changed.
func (p *provider) writeHosts(r *podRuntime) {
	var services []*v1.Service
	var slices []*discoveryv1.EndpointSlice
	if p.svcLister != nil {
		services, _ = p.svcLister.List(labels.Everything())
	}
	if p.epsLister != nil {
		slices, _ = p.epsLister.List(labels.Everything())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sb == nil || r.removed || r.stopping {
		return
	}
	self := hostsSelf{Namespace: r.pod.Namespace, Hostname: podHostname(r.pod), Subdomain: r.pod.Spec.Subdomain, IP: r.sb.IP}
	entries := hostsEntries(self, p.net.Gateway, services, slices)
	text := renderHosts(entries)
	if text == r.hostsText {
		return
	}
	if err := r.sb.WriteHosts(entries); err != nil {
		log.G(context.Background()).Warnf("pod %s: writing /etc/hosts: %v", r.key, err)
		return
	}
	r.hostsText = text
}
