//go:build option2

// Built with -tags option2 (benchmarks/gomaxprocs.py): the seed's option 2, GOMAXPROCS=1 when the memory size
// Lambda announces buys less than one vCPU (1,769 MB).
package main

import (
	"os"
	"runtime"
	"strconv"
)

func init() {
	if mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mb < 1769 {
		runtime.GOMAXPROCS(1)
	}
}
