"""OMS web console: server-rendered pages over the five services' HTTP APIs."""
