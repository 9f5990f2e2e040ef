// cgo-go: a minimal Go Lambda-style program with its own C code, so `go build` links it externally with gcc
// (CGO_ENABLED=1). coldlab's inspector uses it to show what cgo costs: a dynamic loader, libc, C code that has
// no Go metadata. It prints one line and exits; it is a test subject, not a Runtime API client.
package main

/*
#include <stdint.h>
#include <stdlib.h>

static uint64_t fnv1a(const char *s) {
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

func main() {
	name := C.CString("coldlab")
	defer C.free(unsafe.Pointer(name))
	fmt.Fprintf(os.Stdout, "fnv1a=%x\n", uint64(C.fnv1a(name)))
}
