"""Decision logs: one tamper-evident, masked JSON Lines record per decision."""
