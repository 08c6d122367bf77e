// Starting, waiting for and signalling processes of a pod. Start re-executes
// this binary as the sandbox helper (helper.go) in a fresh mount and UTS
// namespace and as leader of a new process group; the helper enters the
// pod's network namespace, mounts, sets the hostname and execs the target,
// so the target keeps the helper's pid. The helper reports a failure before
// exec (e.g. executable not found) on a close-on-exec pipe, which Start turns
// into its error.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// outputDrainDelay bounds how long Wait waits, after the process exited, for
// its stdout/stderr to reach EOF when they are not plain files (a daemon it
// left behind may hold them open).
const outputDrainDelay = 2 * time.Second

// Start starts spec in the sandbox (network, mount and UTS namespace of the
// pod) and returns at once (once the target program is exec'd).
func (s *Sandbox) Start(spec ProcessSpec) (*Process, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, fmt.Errorf("sandbox %s: empty argv", s.Namespace)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.deleted {
		return nil, fmt.Errorf("sandbox %s: deleted", s.Namespace)
	}
	p, err := startHelper(helperConfig{
		NetnsPath: namespacePath(s.Namespace),
		EtcDir:    etcDir(s.Namespace),
		Argv:      spec.Argv,
		Env:       spec.Env,
		WorkDir:   spec.WorkDir,
		Hostname:  spec.Hostname,
		Mounts:    spec.Mounts,
	}, spec)
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: start %s: %w", s.Namespace, spec.Argv[0], err)
	}
	return p, nil
}

// startHelper runs the helper with cfg and returns once it exec'd the target
// (or failed).
func startHelper(cfg helperConfig, spec ProcessSpec) (*Process, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{helperArgv0},
		Env:        []string{helperEnv + "=" + helperEnvValue},
		Stdin:      spec.Stdin,
		Stdout:     spec.Stdout,
		Stderr:     spec.Stderr,
		ExtraFiles: []*os.File{cfgR, statusW}, // fds 3 and 4 in the helper
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS,
		},
		WaitDelay: outputDrainDelay,
	}
	err = cmd.Start()
	cfgR.Close()
	statusW.Close()
	if err != nil {
		cfgW.Close()
		statusR.Close()
		return nil, err
	}
	encErr := json.NewEncoder(cfgW).Encode(cfg)
	cfgW.Close()
	msg, readErr := io.ReadAll(statusR)
	statusR.Close()
	p := &Process{Pid: cmd.Process.Pid, cmd: cmd}
	if len(msg) > 0 || encErr != nil || readErr != nil {
		_, _ = p.Wait()
		if len(msg) > 0 {
			return nil, errors.New(strings.TrimSpace(string(msg)))
		}
		return nil, errors.Join(encErr, readErr)
	}
	return p, nil
}

// exitCode is the code of a finished process: its exit status, or 128+signal
// when a signal killed it.
func exitCode(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}

// Wait waits for the process to exit and returns its exit code (128+signal
// when killed by a signal). It may be called more than once and from several
// goroutines; all get the same result.
func (p *Process) Wait() (int, error) {
	p.once.Do(func() {
		err := p.cmd.Wait()
		if p.cmd.ProcessState == nil {
			p.code, p.err = -1, err
			return
		}
		p.code = exitCode(p.cmd.ProcessState)
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
			p.err = err
		}
	})
	return p.code, p.err
}

// Signal sends sig to the process's whole process group. A group that is
// gone already is not an error.
func (p *Process) Signal(sig syscall.Signal) error {
	// kill(-0) is the caller's own group and kill(-1) every process: never.
	if p.Pid <= 1 {
		return fmt.Errorf("sandbox: refusing to signal process group %d", p.Pid)
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sandbox: signal process group %d: %w", p.Pid, err)
	}
	return nil
}

// Run runs spec to completion or until ctx ends (then kills its process
// group) and returns the exit code. Used for exec probes and `kubectl exec`.
// When ctx ended first, the error is ctx's error (and the code is 137).
func (s *Sandbox) Run(ctx context.Context, spec ProcessSpec) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	p, err := s.Start(spec)
	if err != nil {
		return -1, err
	}
	var killed atomic.Bool
	exited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			killed.Store(true)
			_ = p.Signal(syscall.SIGKILL)
		case <-exited:
		}
	}()
	code, err := p.Wait()
	close(exited)
	if err == nil && killed.Load() {
		err = ctx.Err()
	}
	return code, err
}
