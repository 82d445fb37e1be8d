"""The online/offline consistency probe (reference implementation)."""
