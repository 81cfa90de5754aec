"""Stackline's deployables, one package each; they meet only through proto/."""
