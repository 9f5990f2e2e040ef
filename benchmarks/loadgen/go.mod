module coldlab.dev/benchmarks/loadgen

go 1.22
