module example.com/anatomy-network-init

go 1.22
