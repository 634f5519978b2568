"""The IVOA TAP 1.1 / ADQL service and Simple Cone Search over xpha's published tables."""
