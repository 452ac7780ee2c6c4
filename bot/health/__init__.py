"""Pipeline health: the guide's five-signal Green / Yellow / Red verdict (section 6 Q2)."""
