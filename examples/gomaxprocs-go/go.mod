module example.com/gomaxprocs-go

go 1.22
