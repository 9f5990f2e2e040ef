// gomaxprocs-go: CPU-bound and allocation-heavy work, to see what CPU a memory size buys and whether
// GOMAXPROCS above that CPU hurts. Speaks the Runtime API with the standard library only.
//
// Without AWS_LAMBDA_RUNTIME_API it runs one event (from argv[1], default {}) and prints the reply: handy
// for running the same work directly in a cgroup.
//
// Event fields (all optional):
//
//	{"work": "alloc", "goroutines": 4, "units": 200}  parallel allocation-heavy work (default)
//	{"work": "spin", "units": 100}                    single-goroutine CPU-bound work (1 unit ≈ 1 ms at 1 vCPU)
//	{"work": "hog", "units": 64}                      allocate and touch memory in 1 MB steps, forever if 0
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

type event struct {
	Work       string `json:"work"`
	Goroutines int    `json:"goroutines"`
	Units      int    `json:"units"`
}

type reply struct {
	Work       string  `json:"work"`
	Units      int     `json:"units"`
	Goroutines int     `json:"goroutines"`
	ElapsedMs  float64 `json:"elapsed_ms"`
	CPUMs      float64 `json:"cpu_ms"` // CPU time the process used meanwhile (user+system, every thread)
	GOMAXPROCS int     `json:"gomaxprocs"`
	NumCPU     int     `json:"num_cpu"`
	Checksum   uint64  `json:"checksum"`
	GoVersion  string  `json:"go_version"`
}

// spinUnit is about 1 ms of one core's time on a 2020s x86 core: a xorshift loop the compiler cannot fold.
func spinUnit(seed uint64) uint64 {
	x := seed | 1
	for i := 0; i < 600_000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

type node struct {
	next  *node
	value [6]uint64
}

// allocUnit builds and walks a short-lived linked list and map: work dominated by allocation and GC.
func allocUnit(seed uint64) uint64 {
	var head *node
	for i := 0; i < 4000; i++ {
		head = &node{next: head, value: [6]uint64{seed + uint64(i)}}
	}
	m := make(map[uint64][]byte, 256)
	for i := uint64(0); i < 256; i++ {
		m[i] = make([]byte, 64+i)
	}
	var sum uint64
	for n := head; n != nil; n = n.next {
		sum += n.value[0]
	}
	return sum + uint64(len(m))
}

var hoard [][]byte

func run(ev event) reply {
	if ev.Work == "" {
		ev.Work = "alloc"
	}
	if ev.Goroutines <= 0 {
		ev.Goroutines = 4
	}
	if ev.Units <= 0 && ev.Work != "hog" {
		ev.Units = 100
	}
	cpuStart := cpuTime()
	start := time.Now()
	var sum uint64
	switch ev.Work {
	case "spin":
		ev.Goroutines = 1
		for i := 0; i < ev.Units; i++ {
			sum += spinUnit(uint64(i))
		}
	case "hog":
		ev.Goroutines = 1
		for i := 0; ev.Units == 0 || i < ev.Units; i++ {
			chunk := make([]byte, 1<<20)
			for j := 0; j < len(chunk); j += 4096 {
				chunk[j] = byte(i)
			}
			hoard = append(hoard, chunk)
		}
		sum = uint64(len(hoard))
	default:
		var wg sync.WaitGroup
		var mu sync.Mutex
		per := ev.Units / ev.Goroutines
		for g := 0; g < ev.Goroutines; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				var local uint64
				for i := 0; i < per; i++ {
					local += allocUnit(uint64(g*per + i))
				}
				mu.Lock()
				sum += local
				mu.Unlock()
			}(g)
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	return reply{
		Work: ev.Work, Units: ev.Units, Goroutines: ev.Goroutines,
		ElapsedMs:  float64(elapsed.Microseconds()) / 1000,
		CPUMs:      float64((cpuTime() - cpuStart).Microseconds()) / 1000,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Checksum: sum,
		GoVersion: runtime.Version(),
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func decode(body []byte) (event, error) {
	var ev event
	if len(bytes.TrimSpace(body)) == 0 {
		return ev, nil
	}
	err := json.Unmarshal(body, &ev)
	return ev, err
}

func main() {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		arg := "{}"
		if len(os.Args) > 1 {
			arg = os.Args[1]
		}
		ev, err := decode([]byte(arg))
		if err != nil {
			fmt.Fprintln(os.Stderr, "the event is not JSON:", err)
			os.Exit(2)
		}
		out, _ := json.Marshal(run(ev))
		fmt.Println(string(out))
		return
	}
	base := "http://" + api + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := http.Get(base + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "waiting for the next event failed:", err)
			os.Exit(1)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		url, payload := base+id+"/response", []byte(nil)
		if ev, err := decode(body); err != nil {
			url = base + id + "/error"
			payload, _ = json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "InvalidEvent"})
		} else {
			payload, _ = json.Marshal(run(ev))
		}
		if r, err := http.Post(url, "application/json", bytes.NewReader(payload)); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	}
}
