"""The lines Lambda writes to CloudWatch, byte for byte (reference §4.1)."""
