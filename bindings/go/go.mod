module github.com/rocwebsocket/rocwebsocket/bindings/go

go 1.19
