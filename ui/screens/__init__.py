"""One screen per file; each renders state and turns gestures into service calls."""
