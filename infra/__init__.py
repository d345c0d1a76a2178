"""Targets a GameDay acts on: the local reference stack and the AWS side."""
