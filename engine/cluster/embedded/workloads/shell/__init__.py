"""Shell simulation: what `sh -c '...'`, `sleep 3600` or `echo hello` do in busybox-like images.

Modules depend downwards only: syntax, arithmetic and process <- builtins <- interpreter."""

from .interpreter import SHELL_PROGRAMS, Shell, traps_sigterm

__all__ = ["SHELL_PROGRAMS", "Shell", "traps_sigterm"]
