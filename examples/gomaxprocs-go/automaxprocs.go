//go:build automaxprocs

// Built with -tags automaxprocs (benchmarks/gomaxprocs.py): go.uber.org/automaxprocs sets GOMAXPROCS from the
// CPU quota it can see on the process's own cgroup, at init.
package main

import _ "go.uber.org/automaxprocs"
