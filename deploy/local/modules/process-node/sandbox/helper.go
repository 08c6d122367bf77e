// The in-namespace step of Start, run by this binary re-executed as a helper
// (detected by MaybeReexec). It already has its own mount and UTS namespace
// (clone flags) and runs as its own process group leader. It reads its
// helperConfig from fd 3, enters the pod's network namespace, makes mount
// propagation one-way (host to pod: nothing it mounts is seen outside),
// binds /etc/netns/<ns>/* over /etc/*, applies the spec's mounts, sets the
// hostname, changes directory, looks Argv[0] up in the spec's PATH and execs
// it with exactly the spec's environment. Any failure before exec is written
// to fd 4 (close-on-exec, so a successful exec closes it empty).
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	helperEnv      = "RAYOP_SANDBOX_HELPER"
	helperEnvValue = "fd3"
	helperArgv0    = "rayop-sandbox-helper"
	helperCfgFD    = 3
	helperStatusFD = 4
	// defaultPath is used for the lookup of Argv[0] when Env has no PATH.
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// helperConfig is what Start tells the helper.
type helperConfig struct {
	NetnsPath string
	EtcDir    string
	Argv      []string
	Env       []string
	WorkDir   string
	Hostname  string
	Mounts    []Mount
}

// MaybeReexec must be called first in main: when the binary was re-executed
// as a sandbox helper (the in-namespace step of Start/Run), it does that
// step and never returns; otherwise it returns false.
func MaybeReexec() bool {
	if len(os.Args) == 0 || os.Args[0] != helperArgv0 || os.Getenv(helperEnv) != helperEnvValue {
		return false
	}
	// Namespace changes by setns apply to the calling thread only; keep
	// every step, and the final exec, on this one.
	runtime.LockOSThread()
	err := runHelper()
	status := os.NewFile(helperStatusFD, "status")
	fmt.Fprintf(status, "%v\n", err)
	os.Exit(127)
	return true
}

// runHelper does the in-namespace step; it returns only on failure.
func runHelper() error {
	unix.CloseOnExec(helperStatusFD)
	cfgFile := os.NewFile(helperCfgFD, "config")
	var cfg helperConfig
	err := json.NewDecoder(cfgFile).Decode(&cfg)
	cfgFile.Close()
	if err != nil {
		return fmt.Errorf("read helper config: %w", err)
	}
	if len(cfg.Argv) == 0 {
		return errors.New("empty argv")
	}
	if err := enterNetns(cfg.NetnsPath); err != nil {
		return err
	}
	// Slave, as `ip netns exec` does: nothing mounted here shows outside,
	// and unmounts on the host (e.g. of other pods' /run/netns files) reach
	// in, so this namespace never keeps another pod's namespace alive.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	if err := bindEtcFiles(cfg.EtcDir); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := bindMount(m); err != nil {
			return err
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", cfg.Hostname, err)
		}
	}
	dir := cfg.WorkDir
	if dir == "" {
		dir = "/"
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("chdir %s: %w", dir, err)
	}
	path, err := lookPath(cfg.Argv[0], envPath(cfg.Env))
	if err != nil {
		return err
	}
	env := cfg.Env
	if env == nil {
		env = []string{}
	}
	if err := unix.Exec(path, cfg.Argv, env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// enterNetns moves this thread into the namespace mounted at path.
func enterNetns(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	return nil
}

// bindEtcFiles binds every file of dir over the same name in /etc (as `ip
// netns exec` does); a name /etc lacks is skipped.
func bindEtcFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		target := filepath.Join("/etc", e.Name())
		if _, err := os.Stat(target); err != nil {
			continue
		}
		src := filepath.Join(dir, e.Name())
		if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s over %s: %w", src, target, err)
		}
	}
	return nil
}

// bindMount binds m.Source over m.Target (creating the target: a directory
// for a directory source, an empty file otherwise), read-only if asked.
func bindMount(m Mount) error {
	if !filepath.IsAbs(m.Target) {
		return fmt.Errorf("mount target %q is not absolute", m.Target)
	}
	src, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("mount source: %w", err)
	}
	if err := ensureTarget(m.Target, src.IsDir()); err != nil {
		return fmt.Errorf("mount target %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s over %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
		var st unix.Statfs_t
		if err := unix.Statfs(m.Target, &st); err == nil {
			flags |= keptMountFlags(st.Flags)
		}
		if err := unix.Mount("", m.Target, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// keptMountFlags are the per-mount flags of a statfs result that a
// read-only remount must repeat (or it would clear them).
func keptMountFlags(f int64) uintptr {
	var flags uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_NOSUID:      unix.MS_NOSUID,
		unix.ST_NODEV:       unix.MS_NODEV,
		unix.ST_NOEXEC:      unix.MS_NOEXEC,
		unix.ST_NOATIME:     unix.MS_NOATIME,
		unix.ST_NODIRATIME:  unix.MS_NODIRATIME,
		unix.ST_RELATIME:    unix.MS_RELATIME,
		unix.ST_SYNCHRONOUS: unix.MS_SYNCHRONOUS,
	} {
		if f&st != 0 {
			flags |= ms
		}
	}
	return flags
}

// ensureTarget creates a missing mount target of the right kind.
func ensureTarget(target string, dir bool) error {
	if _, err := os.Stat(target); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// envPath is the PATH of env, or defaultPath.
func envPath(env []string) string {
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return path
}

// lookPath resolves name like a shell: a name with a slash is used as is,
// otherwise the first executable regular file of that name in path.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		if executable(candidate) == nil {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("executable file %q not found in PATH %q", name, path)
}

// executable is nil when path is a regular file with an execute bit.
func executable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
