//go:build !linux

package testenv

import "os/exec"

// tieToParent does nothing off Linux: Stop in the test's clean-up ends cmd.
func tieToParent(cmd *exec.Cmd) {}
