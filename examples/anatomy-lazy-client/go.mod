module example.com/anatomy-lazy-client

go 1.22
