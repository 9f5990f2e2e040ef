module example.com/cpu-go

go 1.22
