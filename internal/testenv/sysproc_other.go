//go:build !unix

package testenv

import "os/exec"

// detach does nothing where process groups do not exist.
func detach(cmd *exec.Cmd) {}
