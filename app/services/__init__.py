"""The platform's rules. Routes and worker actors call these; only these call storage."""
