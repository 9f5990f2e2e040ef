module example.com/anatomy-heavy-init

go 1.22
