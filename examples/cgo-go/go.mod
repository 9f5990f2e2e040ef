module example.com/cgo-go

go 1.22
