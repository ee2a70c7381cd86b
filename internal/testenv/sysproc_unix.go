//go:build unix

package testenv

import (
	"os/exec"
	"syscall"
)

// detach puts cmd in its own process group, so that it outlives its parent.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
