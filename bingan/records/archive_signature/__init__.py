"""The archive signature (归档签章): every archived record signed by its reviewer with a trusted timestamp."""
