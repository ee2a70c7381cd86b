package testenv

import (
	"os/exec"
	"syscall"
)

// tieToParent makes the kernel kill cmd when the test binary dies.
func tieToParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
