// One pod on the process node: its sandbox, volumes, init containers then
// containers (each supervised with restarts and probes), its status, and its
// termination (preStop, SIGTERM, grace, SIGKILL, sandbox and directory
// removed). All state is guarded by podRuntime.mu; status changes are sent
// to virtual-kubelet by one notifier goroutine, always the latest.
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"rayop.local/process-node/sandbox"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hostIP is reported as status.hostIP: the Node's InternalIP (127.0.0.1),
// not the bridge gateway, so status and Node agree.
const hostIP = "127.0.0.1"

// podRuntime is the live state of one pod.
type podRuntime struct {
	p    *provider
	key  string
	dir  string
	vols *volumeSet

	ctx    context.Context
	cancel context.CancelFunc
	dirty  chan struct{}
	done   chan struct{} // closed when the pod is fully removed

	mu         sync.Mutex
	pod        *v1.Pod // as virtual-kubelet handed it (env resolved)
	orig       *v1.Pod // the pod as in the API (env unresolved)
	sb         *sandbox.Sandbox
	startTime  metav1.Time
	reason     string
	message    string
	initDone   bool
	initFailed bool
	stopping   bool
	removed    bool
	inits      []*ctrRuntime
	ctrs       []*ctrRuntime
	conds      conditionSet
	hostsText  string
	stopOnce   sync.Once
}

// ctrRuntime is the live state of one container.
type ctrRuntime struct {
	spec    *v1.Container // env resolved by virtual-kubelet
	orig    *v1.Container // as in the API
	init    bool
	sidecar bool // init container with restartPolicy Always

	st        v1.ContainerStatus
	proc      *sandbox.Process
	exited    chan struct{} // closed when the current run's process exited
	base      sandbox.ProcessSpec
	started   bool
	ready     bool
	logRun    int  // index of the current log file
	runDone   bool // the current run ended and its output is written
	startedCh chan struct{}
	startOnce sync.Once
	supDone   chan struct{}
}

func newCtr(spec, orig *v1.Container, init bool) *ctrRuntime {
	c := &ctrRuntime{spec: spec, orig: orig, init: init, startedCh: make(chan struct{}), supDone: make(chan struct{})}
	c.sidecar = init && orig.RestartPolicy != nil && *orig.RestartPolicy == v1.ContainerRestartPolicyAlways
	reason := "ContainerCreating"
	if !init {
		reason = "PodInitializing"
	}
	c.st = v1.ContainerStatus{Name: spec.Name, Image: spec.Image, State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason}}}
	return c
}

func podKey(ns, name string) string { return ns + "/" + name }

// podHostname is spec.hostname or the pod name (63 characters at most).
func podHostname(pod *v1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

func (r *podRuntime) hostname() string {
	h := podHostname(r.pod)
	if r.pod.Spec.SetHostnameAsFQDN != nil && *r.pod.Spec.SetHostnameAsFQDN && r.pod.Spec.Subdomain != "" {
		h = h + "." + r.pod.Spec.Subdomain + "." + r.pod.Namespace + ".svc." + clusterDomain
	}
	return h
}

// changed wakes the notifier (never blocks).
func (r *podRuntime) changed() {
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// notifier sends the latest status whenever something changed.
func (r *podRuntime) notifier() {
	for {
		select {
		case <-r.dirty:
		case <-r.done:
			return
		}
		r.p.notify(r.snapshot())
	}
}

// snapshot is a copy of the pod with the current status.
func (r *podRuntime) snapshot() *v1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	pod := r.pod.DeepCopy()
	pod.Status = r.statusLocked()
	return pod
}

func (r *podRuntime) event(kind, reason, format string, args ...any) {
	r.mu.Lock()
	pod := r.pod
	r.mu.Unlock()
	r.p.recorder.Eventf(pod, kind, reason, format, args...)
}

// statusLocked builds the PodStatus from the runtime state.
func (r *podRuntime) statusLocked() v1.PodStatus {
	now := metav1.Now()
	st := v1.PodStatus{
		QOSClass:  r.pod.Status.QOSClass,
		Reason:    r.reason,
		Message:   r.message,
		HostIP:    hostIP,
		HostIPs:   []v1.HostIP{{IP: hostIP}},
		StartTime: &r.startTime,
	}
	if r.sb != nil {
		st.PodIP = r.sb.IP.String()
		st.PodIPs = []v1.PodIP{{IP: st.PodIP}}
	}
	for _, c := range r.inits {
		st.InitContainerStatuses = append(st.InitContainerStatuses, c.statusLocked())
	}
	allReady := len(r.ctrs) > 0
	for _, c := range r.ctrs {
		cs := c.statusLocked()
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.Phase = podPhase(r.initFailed, r.initDone, st.ContainerStatuses)
	if r.removed {
		st.Phase = terminalPhase(st.ContainerStatuses)
	}
	managed := map[v1.PodConditionType]bool{}
	add := func(c v1.PodCondition) {
		managed[c.Type] = true
		st.Conditions = append(st.Conditions, c)
	}
	add(r.conds.set(v1.PodScheduled, true, "", now))
	add(r.conds.set(v1.PodReadyToStartContainers, r.sb != nil && !r.removed, "", now))
	add(r.conds.set(v1.PodInitialized, r.initDone, "ContainersNotInitialized", now))
	ready := allReady && st.Phase == v1.PodRunning
	add(r.conds.set(v1.ContainersReady, ready, "ContainersNotReady", now))
	add(r.conds.set(v1.PodReady, ready, "ContainersNotReady", now))
	for _, c := range r.pod.Status.Conditions {
		if !managed[c.Type] {
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st
}

// terminalPhase is the phase of a deleted pod: Succeeded when every
// container exited 0, else Failed.
func terminalPhase(ctrs []v1.ContainerStatus) v1.PodPhase {
	for _, s := range ctrs {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			return v1.PodFailed
		}
	}
	return v1.PodSucceeded
}

func (c *ctrRuntime) statusLocked() v1.ContainerStatus {
	s := *c.st.DeepCopy()
	s.Ready = c.ready
	started := c.started
	s.Started = &started
	if s.ImageID == "" {
		s.ImageID = s.Image
	}
	return s
}

// fieldInfo for downward API volumes.
func (r *podRuntime) fieldInfoLocked() fieldInfo {
	fi := fieldInfo{hostIP: hostIP, allocatable: r.p.cfg.allocatable()}
	if r.sb != nil {
		fi.podIP = r.sb.IP.String()
	}
	return fi
}

// run is the pod's life: volumes, init containers, containers.
func (r *podRuntime) run() {
	// Volumes: transient errors (a ConfigMap not there yet) are retried.
	lastMsg := ""
	for {
		r.mu.Lock()
		orig, fi := r.orig, r.fieldInfoLocked()
		r.mu.Unlock()
		err := r.vols.setup(r.ctx, orig, fi)
		if err == nil {
			break
		}
		if r.ctx.Err() != nil {
			return
		}
		msg := "MountVolume.SetUp failed: " + err.Error()
		if msg != lastMsg {
			lastMsg = msg
			r.event(v1.EventTypeWarning, "FailedMount", "%s", msg)
			r.mu.Lock()
			r.message = msg
			r.mu.Unlock()
			r.changed()
		}
		if !sleepCtx(r.ctx, 2*time.Second) {
			return
		}
	}
	r.mu.Lock()
	r.message = ""
	r.mu.Unlock()
	r.changed()
	go r.refreshVolumes()

	policy := r.pod.Spec.RestartPolicy
	for _, c := range r.inits {
		if c.sidecar {
			go r.supervise(c, v1.RestartPolicyAlways)
			select {
			case <-c.startedCh:
			case <-r.ctx.Done():
				return
			}
			continue
		}
		initPolicy := v1.RestartPolicyOnFailure
		if policy == v1.RestartPolicyNever {
			initPolicy = v1.RestartPolicyNever
		}
		ok := r.supervise(c, initPolicy)
		if r.ctx.Err() != nil {
			return
		}
		if !ok {
			r.mu.Lock()
			r.initFailed = true
			r.mu.Unlock()
			r.changed()
			return
		}
	}
	r.mu.Lock()
	r.initDone = true
	for _, c := range r.ctrs {
		c.st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	}
	r.mu.Unlock()
	r.changed()
	var wg sync.WaitGroup
	for _, c := range r.ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.supervise(c, policy)
		}()
	}
	wg.Wait()
	if r.ctx.Err() == nil {
		// Every container is done for good: end stray processes.
		r.mu.Lock()
		sb := r.sb
		r.mu.Unlock()
		_ = sb.StopAll(2 * time.Second)
	}
}

// refreshVolumes keeps ConfigMap/Secret/downward/token files current.
func (r *podRuntime) refreshVolumes() {
	for sleepCtx(r.ctx, 10*time.Second) {
		r.mu.Lock()
		orig, fi := r.orig, r.fieldInfoLocked()
		r.mu.Unlock()
		_ = r.vols.setup(r.ctx, orig, fi)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// supervise runs c until it is done for good under policy; it reports
// whether the last run exited 0.
func (r *podRuntime) supervise(c *ctrRuntime, policy v1.RestartPolicy) bool {
	defer close(c.supDone)
	var backoff time.Duration
	for {
		if r.ctx.Err() != nil {
			return false
		}
		code, ranFor, startErr := r.runOnce(c)
		if startErr != nil {
			// A missing ConfigMap key or image rule may be fixed later.
			backoff = nextBackoff(backoff, 0)
			if !sleepCtx(r.ctx, backoff) {
				return false
			}
			continue
		}
		if r.ctx.Err() != nil {
			return code == 0
		}
		if c.init && !c.sidecar && code == 0 {
			return true
		}
		restart := policy == v1.RestartPolicyAlways || (policy == v1.RestartPolicyOnFailure && code != 0)
		if !restart {
			return code == 0
		}
		backoff = nextBackoff(backoff, ranFor)
		r.mu.Lock()
		c.st.LastTerminationState = c.st.State
		c.st.RestartCount++
		c.st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, c.spec.Name, r.pod.Name),
		}}
		r.mu.Unlock()
		r.changed()
		r.event(v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.spec.Name, r.pod.Name)
		if !sleepCtx(r.ctx, backoff) {
			return false
		}
	}
}

// configError leaves c waiting with reason and message (retried with
// back-off; the Event is sent when the message changes).
func (r *podRuntime) configError(c *ctrRuntime, reason string, err error) {
	r.mu.Lock()
	old := c.st.State.Waiting
	c.st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason, Message: err.Error()}}
	r.mu.Unlock()
	r.changed()
	if old == nil || old.Message != err.Error() {
		r.event(v1.EventTypeWarning, "Failed", "Error: %v", err)
	}
}

// processSpec is the base ProcessSpec of c: argv, env, mounts, hostname.
func (r *podRuntime) processSpec(c *ctrRuntime) (sandbox.ProcessSpec, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rule, ok := matchImage(r.p.cfg.images, c.spec.Image)
	if !ok {
		return sandbox.ProcessSpec{}, "ErrImageNeverPull", fmt.Errorf("container %q: no --image-map rule matches image %q", c.spec.Name, c.spec.Image)
	}
	ip := ""
	if r.sb != nil {
		ip = r.sb.IP.String()
	}
	env, err := resolveEnv(c.orig, r.orig, envContext{PodIPs: []string{ip}, HostIPs: []string{hostIP}, Pod: r.orig, Allocatable: r.p.cfg.allocatable()}, r.p)
	if err != nil {
		return sandbox.ProcessSpec{}, "CreateContainerConfigError", fmt.Errorf("container %q: %w", c.spec.Name, err)
	}
	bin := ""
	if rule.Dir != hostImage {
		bin = filepath.Join(rule.Dir, "bin")
	}
	hostname := r.hostname()
	addNodeEnv(env, bin, hostname)
	argv, err := containerArgv(c.spec, env)
	if err != nil {
		return sandbox.ProcessSpec{}, "CreateContainerConfigError", err
	}
	// Mount order: the image bin, the volumes, /etc/hostname, and the pod's tmp over /tmp
	// last, so sources under the host's /tmp are still visible when bound.
	// Volumes meant for paths under /tmp are bound into the pod's tmp
	// directory instead, and travel with the (recursive) /tmp bind.
	podTmp := filepath.Join(r.dir, "tmp")
	mounts := []sandbox.Mount{}
	if bin != "" {
		mounts = append(mounts, sandbox.Mount{Source: bin, Target: "/usr/local/bin", ReadOnly: true})
	}
	var vmounts []sandbox.Mount
	for _, vm := range c.orig.VolumeMounts {
		src, vs, ok := r.vols.source(r.orig, vm.Name)
		if !ok {
			return sandbox.ProcessSpec{}, "CreateContainerConfigError", fmt.Errorf("container %q: volumeMount %q names no volume", c.spec.Name, vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandVars(vm.SubPathExpr, env.lookup)
		}
		if sub != "" {
			clean := filepath.Clean("/" + sub)[1:]
			if strings.HasPrefix(clean, "..") {
				return sandbox.ProcessSpec{}, "CreateContainerConfigError", fmt.Errorf("container %q: subPath %q leaves the volume", c.spec.Name, sub)
			}
			src = filepath.Join(src, clean)
			if _, err := os.Stat(src); os.IsNotExist(err) {
				_ = os.MkdirAll(src, 0o755)
			}
		}
		target := filepath.Clean(vm.MountPath)
		if target == "/tmp" {
			podTmp = src
			continue
		}
		if rest, under := strings.CutPrefix(target, "/tmp/"); under {
			target = filepath.Join(podTmp, rest)
		}
		vmounts = append(vmounts, sandbox.Mount{Source: src, Target: target, ReadOnly: vm.ReadOnly || readOnlyVolume(vs)})
	}
	// Parents before children, so nested mountPaths work.
	sort.SliceStable(vmounts, func(i, j int) bool {
		return strings.Count(vmounts[i].Target, "/") < strings.Count(vmounts[j].Target, "/")
	})
	mounts = append(mounts, vmounts...)
	hostnameFile := filepath.Join(r.dir, "hostname")
	if err := os.WriteFile(hostnameFile, []byte(hostname+"\n"), 0o644); err == nil {
		mounts = append(mounts, sandbox.Mount{Source: hostnameFile, Target: "/etc/hostname", ReadOnly: true})
	}
	mounts = append(mounts, sandbox.Mount{Source: podTmp, Target: "/tmp"})
	return sandbox.ProcessSpec{Argv: argv, Env: env.list(), WorkDir: c.spec.WorkingDir, Hostname: hostname, Mounts: mounts}, "", nil
}

func (r *podRuntime) logPath(name string, run int) string {
	return filepath.Join(r.dir, "logs", name, fmt.Sprintf("%d.log", run))
}

// runOnce starts c once and waits for it; startErr means it could not be
// configured at all (no retry).
func (r *podRuntime) runOnce(c *ctrRuntime) (code int, ranFor time.Duration, startErr error) {
	spec, reason, err := r.processSpec(c)
	if err != nil {
		r.configError(c, reason, err)
		return -1, 0, err
	}
	r.mu.Lock()
	run := int(c.st.RestartCount)
	sb := r.sb
	r.mu.Unlock()
	path := r.logPath(c.spec.Name, run)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		r.configError(c, "RunContainerError", err)
		return -1, 0, err
	}
	_ = os.Remove(r.logPath(c.spec.Name, run-2))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.configError(c, "RunContainerError", err)
		return -1, 0, err
	}
	sink := &logSink{f: f}
	outR, outW, err1 := os.Pipe()
	errR, errW, err2 := os.Pipe()
	if err1 != nil || err2 != nil {
		_ = f.Close()
		err := fmt.Errorf("pipes: %v %v", err1, err2)
		r.configError(c, "RunContainerError", err)
		return -1, 0, err
	}
	spec.Stdout, spec.Stderr = outW, errW
	// Everything this run starts carries the container's tag, so what it
	// leaves behind is found when it ends (see below).
	spec.Env = append(spec.Env, sandbox.TagEnv+"="+c.spec.Name)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		copyQuiet(&streamWriter{sink: sink, stream: "stdout", now: time.Now}, outR)
	}()
	go func() {
		defer readers.Done()
		copyQuiet(&streamWriter{sink: sink, stream: "stderr", now: time.Now}, errR)
	}()
	readersDone := make(chan struct{})
	go func() { readers.Wait(); _ = f.Close(); close(readersDone) }()

	r.mu.Lock()
	c.logRun = run
	c.runDone = false
	c.base = spec
	r.mu.Unlock()
	proc, err := sb.Start(spec)
	_ = outW.Close()
	_ = errW.Close()
	start := time.Now()
	if err != nil {
		// Counted like a failed run, so restarts and back-off apply.
		r.mu.Lock()
		c.st.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
			ExitCode: 128, Reason: "StartError", Message: err.Error(),
			StartedAt: metav1.NewTime(start), FinishedAt: metav1.Now(),
		}}
		c.runDone = true
		r.mu.Unlock()
		r.changed()
		r.event(v1.EventTypeWarning, "Failed", "Error: %v", err)
		return 128, 0, nil
	}
	exited := make(chan struct{})
	r.mu.Lock()
	c.proc = proc
	c.exited = exited
	c.st.ContainerID = fmt.Sprintf("process://%d", proc.Pid)
	c.st.State = v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(start)}}
	c.started = c.spec.StartupProbe == nil
	c.ready = c.started && c.spec.ReadinessProbe == nil && !(c.init && !c.sidecar)
	if c.started {
		c.startOnce.Do(func() { close(c.startedCh) })
	}
	r.mu.Unlock()
	r.changed()
	r.event(v1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)

	probeCtx, stopProbes := context.WithCancel(r.ctx)
	if h := c.spec.Lifecycle; h != nil && h.PostStart != nil {
		if ok, msg := r.runHook(probeCtx, c, h.PostStart, 30*time.Second); !ok {
			r.event(v1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", msg)
			_ = proc.Signal(syscall.SIGKILL)
		}
	}
	go r.runProbes(probeCtx, c, proc, exited)
	code, _ = proc.Wait()
	// A container ends with its main process: like a container runtime,
	// kill what the run left (daemons, orphans of a SIGKILLed parent), so
	// the next run finds its ports free.
	if err := sb.KillTagged(c.spec.Name); err != nil {
		r.event(v1.EventTypeWarning, "Failed", "Error: stopping what container %s left: %v", c.spec.Name, err)
	}
	close(exited)
	stopProbes()
	finished := time.Now()
	select {
	case <-readersDone:
	case <-time.After(time.Second): // a daemon kept the output open
	}
	r.mu.Lock()
	reason = "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.st.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
		ExitCode: int32(code), Reason: reason, ContainerID: c.st.ContainerID,
		StartedAt: metav1.NewTime(start), FinishedAt: metav1.NewTime(finished),
	}}
	c.proc = nil
	c.started, c.ready = false, false
	c.runDone = true
	r.mu.Unlock()
	r.changed()
	return code, finished.Sub(start), nil
}

func copyQuiet(w *streamWriter, r *os.File) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			_ = r.Close()
			return
		}
	}
}

// execIn runs argv with c's env and mounts (exec probes and hooks).
func (r *podRuntime) execIn(ctx context.Context, c *ctrRuntime, argv []string) (int, error) {
	r.mu.Lock()
	spec := c.base
	sb := r.sb
	r.mu.Unlock()
	spec.Argv = argv
	spec.Stdin, spec.Stdout, spec.Stderr = nil, nil, nil
	return sb.Run(ctx, spec)
}

func (r *podRuntime) target(c *ctrRuntime) probeTarget {
	r.mu.Lock()
	defer r.mu.Unlock()
	ip := netip.Addr{}
	if r.sb != nil {
		ip = r.sb.IP
	}
	return probeTarget{podIP: ip, container: c.spec, exec: func(ctx context.Context, argv []string) (int, error) { return r.execIn(ctx, c, argv) }}
}

// runHook runs a lifecycle hook (exec, httpGet, tcpSocket).
func (r *podRuntime) runHook(ctx context.Context, c *ctrRuntime, h *v1.LifecycleHandler, timeout time.Duration) (bool, string) {
	if h.Sleep != nil {
		sleepCtx(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
		return true, ""
	}
	return runProbe(ctx, v1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}, r.target(c), timeout)
}

// runProbes runs startup, then liveness and readiness probes of one run.
func (r *podRuntime) runProbes(ctx context.Context, c *ctrRuntime, proc *sandbox.Process, exited chan struct{}) {
	t := r.target(c)
	loop := func(p *v1.Probe, liveness bool, what string, onResult func(probeResult, bool) bool) {
		initial, period, timeout := probeTiming(p)
		tr := newProbeTracker(p, liveness)
		if !sleepCtx(ctx, initial) {
			return
		}
		for {
			ok, msg := runProbe(ctx, p.ProbeHandler, t, timeout)
			if ctx.Err() != nil {
				return
			}
			if !ok {
				r.event(v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", what, msg)
			}
			res, changed := tr.observe(ok)
			if !onResult(res, changed) {
				return
			}
			if !sleepCtx(ctx, period) {
				return
			}
		}
	}
	if p := c.spec.StartupProbe; p != nil {
		started := false
		loop(p, false, "Startup", func(res probeResult, _ bool) bool {
			switch res {
			case probeSuccess:
				started = true
				return false
			case probeFailure:
				r.event(v1.EventTypeNormal, "Killing", "Container %s failed startup probe, will be restarted", c.spec.Name)
				r.killRun(proc, exited)
				return false
			}
			return true
		})
		if !started {
			return
		}
		r.mu.Lock()
		c.started = true
		c.ready = c.spec.ReadinessProbe == nil
		r.mu.Unlock()
		c.startOnce.Do(func() { close(c.startedCh) })
		r.changed()
	}
	if p := c.spec.ReadinessProbe; p != nil {
		go loop(p, false, "Readiness", func(res probeResult, changed bool) bool {
			if changed {
				r.mu.Lock()
				c.ready = res == probeSuccess
				r.mu.Unlock()
				r.changed()
			}
			return true
		})
	}
	if p := c.spec.LivenessProbe; p != nil {
		go loop(p, true, "Liveness", func(res probeResult, _ bool) bool {
			if res == probeFailure {
				r.event(v1.EventTypeNormal, "Killing", "Container %s failed liveness probe, will be restarted", c.spec.Name)
				r.killRun(proc, exited)
				return false
			}
			return true
		})
	}
}

// killRun stops one run: SIGTERM to its group, SIGKILL after the grace.
func (r *podRuntime) killRun(proc *sandbox.Process, exited chan struct{}) {
	grace := 30 * time.Second
	r.mu.Lock()
	if g := r.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	r.mu.Unlock()
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = proc.Signal(syscall.SIGKILL)
	}
}

// terminate stops the pod within grace and removes everything it made.
// It runs once; later calls wait for the first.
func (r *podRuntime) terminate(grace time.Duration) {
	r.stopOnce.Do(func() {
		deadline := time.Now().Add(grace)
		r.mu.Lock()
		r.stopping = true
		r.mu.Unlock()
		r.cancel()
		// Regular containers first, then sidecars, like kubelet.
		r.stopGroup(r.ctrs, deadline)
		r.stopGroup(r.inits, deadline)
		r.mu.Lock()
		sb := r.sb
		r.mu.Unlock()
		if sb != nil {
			_ = sb.StopAll(time.Second)
		}
		for _, c := range append(append([]*ctrRuntime{}, r.inits...), r.ctrs...) {
			select {
			case <-c.supDone:
			case <-time.After(5 * time.Second):
			}
		}
		if sb != nil {
			if err := r.p.net.DeleteSandbox(sb); err != nil {
				r.event(v1.EventTypeWarning, "SandboxCleanupFailed", "deleting the sandbox: %v", err)
			}
		}
		_ = os.RemoveAll(r.dir)
		r.mu.Lock()
		r.removed = true
		for _, c := range append(append([]*ctrRuntime{}, r.inits...), r.ctrs...) {
			if c.st.State.Terminated == nil {
				c.st.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
					ExitCode: 137, Reason: "ContainerStatusUnknown",
					Message: "The container was not running when the pod was deleted.", FinishedAt: metav1.Now(),
				}}
			}
			c.started, c.ready = false, false
		}
		r.mu.Unlock()
		r.p.notify(r.snapshot())
		r.p.forget(r)
		close(r.done)
	})
	<-r.done
}

// stopGroup runs preStop hooks and SIGTERMs the running containers of
// group, waits until deadline, then SIGKILLs what is left.
func (r *podRuntime) stopGroup(group []*ctrRuntime, deadline time.Time) {
	type running struct {
		c      *ctrRuntime
		proc   *sandbox.Process
		exited chan struct{}
	}
	var live []running
	r.mu.Lock()
	for _, c := range group {
		if c.proc != nil {
			live = append(live, running{c, c.proc, c.exited})
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h := l.c.spec.Lifecycle; h != nil && h.PreStop != nil {
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				if ok, msg := r.runHook(ctx, l.c, h.PreStop, time.Until(deadline)); !ok {
					r.event(v1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %s", msg)
				}
				cancel()
			}
			r.event(v1.EventTypeNormal, "Killing", "Stopping container %s", l.c.spec.Name)
			_ = l.proc.Signal(syscall.SIGTERM)
			select {
			case <-l.exited:
			case <-time.After(time.Until(deadline)):
				_ = l.proc.Signal(syscall.SIGKILL)
				select {
				case <-l.exited:
				case <-time.After(5 * time.Second):
				}
			}
		}()
	}
	wg.Wait()
}
