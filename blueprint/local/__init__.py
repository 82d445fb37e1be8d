"""Local deploy of the program into moto."""
