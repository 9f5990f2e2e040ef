module example.com/sleep-go

go 1.22
