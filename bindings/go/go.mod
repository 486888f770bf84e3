module rocwebsocket

go 1.19
