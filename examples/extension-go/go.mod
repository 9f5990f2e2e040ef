module example.com/extension-go

go 1.22
