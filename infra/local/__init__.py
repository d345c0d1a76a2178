"""The local reference stack: two regions of real processes on loopback."""
