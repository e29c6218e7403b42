"""Fault tools: runs killed at random moments and in a save must resume."""
