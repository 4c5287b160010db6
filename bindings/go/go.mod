module torvyn.dev/torvyn

go 1.19
