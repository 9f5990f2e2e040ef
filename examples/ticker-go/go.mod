module example.com/ticker-go

go 1.22
