"""The streaming path: the Faust app and its agents, the steps they share with replay, the sink."""
