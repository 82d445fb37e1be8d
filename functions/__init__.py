"""Lambda function sources deployed by the components (each in its own folder)."""
