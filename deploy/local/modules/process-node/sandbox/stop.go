// Finding and stopping every process of a pod: a process belongs to a pod
// when its network namespace is the pod's (so daemons that called setsid or
// left the process group are found too), and to one of its containers when
// it also carries that container's tag in its environment (TagEnv). Signals go through pidfds opened
// after a re-check of the namespace, so a recycled pid is never hit, and
// stopping ends only when every signalled process has exited.
package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

const (
	stopPollInterval = 20 * time.Millisecond
	killTimeout      = 10 * time.Second // how long SIGKILLed processes may take to go
)

// nsID identifies a namespace by the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// podNS is statNS for a pod's namespace, refusing the node's own network
// namespace: a mistake there would signal every process of the host.
func podNS(path string) (nsID, error) {
	ns, err := statNS(path)
	if err != nil {
		return ns, err
	}
	if own, err := statNS("/proc/self/ns/net"); err == nil && own == ns {
		return nsID{}, fmt.Errorf("%s is the host's own network namespace; refusing to signal its processes", path)
	}
	return ns, nil
}

func pidInNS(pid int, ns nsID) bool {
	id, err := statNS("/proc/" + strconv.Itoa(pid) + "/ns/net")
	return err == nil && id == ns
}

// TagEnv is the environment variable that marks a process, and everything it
// starts, as one container's: callers set TagEnv=<tag> in ProcessSpec.Env.
const TagEnv = "RAYOP_PROCESS_NODE_CONTAINER"

// hasTag reports whether pid was started with TagEnv=tag in its environment
// (children inherit it, whatever session or process group they move to).
func hasTag(pid int, tag string) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := []byte(TagEnv + "=" + tag)
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(kv, want) {
			return true
		}
	}
	return false
}

// pidsInNS lists the live (not zombie) processes whose network namespace is ns.
func pidsInNS(ns nsID) ([]int, error) {
	return pidsWhere(ns, nil)
}

// pidsWhere is pidsInNS restricted to the processes match accepts (all when
// match is nil).
func pidsWhere(ns nsID, match func(pid int) bool) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		if pidInNS(pid, ns) && (match == nil || match(pid)) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// stopper signals the processes of one namespace through pidfds, so a pid
// recycled after the namespace check is never hit, and can wait until every
// process it signalled has really exited (a killed process leaves its
// namespace before it is done exiting).
type stopper struct {
	ns    nsID
	match func(pid int) bool // nil: every process of the namespace
	fds   map[int]int        // pid -> pidfd
}

// belongs reports whether pid is (still) one the stopper is to stop.
func (st *stopper) belongs(pid int) bool {
	return pidInNS(pid, st.ns) && (st.match == nil || st.match(pid))
}

// signal sends sig to pid if it still is (or, once opened, was) in the
// namespace. A process that is gone already is not an error.
func (st *stopper) signal(pid int, sig unix.Signal) error {
	for attempt := 0; attempt < 2; attempt++ {
		fd, ok := st.fds[pid]
		if !ok {
			var err error
			fd, err = unix.PidfdOpen(pid, 0)
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("pidfd_open %d: %w", pid, err)
			}
			if !st.belongs(pid) {
				unix.Close(fd)
				return nil
			}
			st.fds[pid] = fd
		}
		err := unix.PidfdSendSignal(fd, sig, nil, 0)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
		// That process is gone; the pid may now be a new one of the
		// namespace: open it afresh.
		unix.Close(fd)
		delete(st.fds, pid)
	}
	return nil
}

// waitExited waits until every signalled process has exited.
func (st *stopper) waitExited(deadline time.Time) error {
	for len(st.fds) > 0 {
		fds := make([]unix.PollFd, 0, len(st.fds))
		for _, fd := range st.fds {
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%d signalled processes did not exit", len(st.fds))
		}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll pidfds: %w", err)
		}
		for pid, fd := range st.fds {
			for _, p := range fds {
				if int(p.Fd) == fd && p.Revents != 0 {
					unix.Close(fd)
					delete(st.fds, pid)
				}
			}
		}
	}
	return nil
}

func (st *stopper) close() {
	for pid, fd := range st.fds {
		unix.Close(fd)
		delete(st.fds, pid)
	}
}

// stopNS sends SIGTERM to every process in the namespace at path that match
// accepts (nil: all; also to ones that appear meanwhile), waits up to grace
// for them to exit, then SIGKILLs whatever is left until none is, and returns
// once every signalled process has exited. A missing namespace file means
// there is nothing to stop.
func stopNS(path string, grace time.Duration, match func(pid int) bool) error {
	ns, err := podNS(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st := &stopper{ns: ns, match: match, fds: map[int]int{}}
	defer st.close()
	killDeadline := time.Now().Add(grace + killTimeout)
	if grace > 0 {
		deadline := time.Now().Add(grace)
		termed := map[int]bool{}
		for {
			pids, err := pidsWhere(ns, match)
			if err != nil {
				return err
			}
			if len(pids) == 0 {
				return st.waitExited(killDeadline)
			}
			for _, pid := range pids {
				if !termed[pid] {
					termed[pid] = true
					if err := st.signal(pid, unix.SIGTERM); err != nil {
						return err
					}
				}
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(stopPollInterval)
		}
	}
	for {
		pids, err := pidsWhere(ns, match)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return st.waitExited(killDeadline)
		}
		if time.Now().After(killDeadline) {
			return fmt.Errorf("sandbox: processes %v still in %s after SIGKILL", pids, path)
		}
		for _, pid := range pids {
			if err := st.signal(pid, unix.SIGKILL); err != nil {
				return err
			}
		}
		time.Sleep(stopPollInterval / 4)
	}
}

// Pids lists the processes currently in the pod's network namespace.
func (s *Sandbox) Pids() ([]int, error) {
	ns, err := podNS(namespacePath(s.Namespace))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return pidsInNS(ns)
}

// StopAll sends SIGTERM to every process in the namespace, waits up to grace
// for them to exit, then SIGKILLs the rest. grace <= 0 means SIGKILL at once.
// Processes that left the process group (setsid) are found by namespace.
func (s *Sandbox) StopAll(grace time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := stopNS(namespacePath(s.Namespace), grace, nil); err != nil {
		return fmt.Errorf("sandbox %s: %w", s.Namespace, err)
	}
	return nil
}

// KillTagged SIGKILLs every process of the pod started with TagEnv=tag and
// returns once they have exited: what a container runtime does to what is
// left of a container when its main process ends, so a restarted container
// never finds its previous run's daemons holding its ports.
func (s *Sandbox) KillTagged(tag string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(pid int) bool { return hasTag(pid, tag) }
	if err := stopNS(namespacePath(s.Namespace), 0, match); err != nil {
		return fmt.Errorf("sandbox %s: container %s: %w", s.Namespace, tag, err)
	}
	return nil
}
