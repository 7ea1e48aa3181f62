"""The media agent: a LiveKit agent worker that decides the spotlight of every live Space."""
